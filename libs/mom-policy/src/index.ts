/**
 * @berth/mom-policy — oVirt MOM's policy language, evaluated as MOM's own engine does.
 * See README.md for the API and for every quirk kept on purpose.
 */
export { PolicyError, parsePolicy, loadPolicySet, policyName } from './policy-set.ts';
export type { ParsedPolicy, PolicySet, PolicyFile, Swallowed } from './policy-set.ts';
export { evaluateInterval } from './interval.ts';
export { toValue } from './input.ts';
export type { EvalInput, EvalOutput, EvalConfig, GuestInput, InputSample } from './interval.ts';
export { toJson, floatRepr, Float } from './output.ts';
export type { PlainValue } from './output.ts';
export { parseJson } from './json.ts';
export {
  COLLECTORS,
  REMOTE_HOST_COLLECTORS,
  VDSM_HOST_COLLECTORS,
  VDSM_GUEST_COLLECTORS,
  DEFAULT_HISTORY_LENGTH,
  fieldsOf,
} from './collectors.ts';
export type { CollectorFields, FieldSet } from './collectors.ts';
