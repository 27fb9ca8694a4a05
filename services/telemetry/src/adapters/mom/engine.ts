import { evaluateInterval, loadPolicySet, PolicyError, type PolicySet } from '@berth/mom-policy';
import type { PolicyEngine } from '../../application/ports.ts';

/** MOM's policy language (@berth/mom-policy) as the loop's engine. */
export const momEngine: PolicyEngine<PolicySet> = {
  compile(files) {
    try {
      return { ok: true, set: loadPolicySet(files) };
    } catch (e) {
      if (e instanceof PolicyError) return { ok: false, file: e.file, line: e.line, message: e.reason };
      throw e;
    }
  },
  evaluate(set, input) {
    return evaluateInterval(set, input);
  },
};
