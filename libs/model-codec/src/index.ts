// The one codec between the fit model (and the parsed hardware configuration) and its wire form,
// berth.model.v1. Inventory, the scheduler, migration and the CLI all encode and decode through it.
export {
  enumMap,
  hostStates,
  slaTiers,
  migrationModes,
  cpuPolicies,
  polarities,
  targets,
  enforcements,
  vmStatuses,
  type EnumMap,
  type VmStatusName,
} from './enums.ts';
export { decodeClaim, encodeClaim } from './claim.ts';
export { decodeVmSpec, encodeVmSpec } from './vm-spec.ts';
export { decodeHostSpec, encodeHostSpec } from './host-spec.ts';
export { decodeNetwork, encodeNetwork } from './network.ts';
export { decodeHardwareConfig, encodeHardwareConfig, encodeCurve } from './hardware-config.ts';
export { perObject } from './per-object.ts';
export { MODEL_PARITY } from './model-parity.ts';
