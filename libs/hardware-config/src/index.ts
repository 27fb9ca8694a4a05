export type * from './model.ts';
export { ConfigFileError } from './errors.ts';
export {
  parseHardwareConfig,
  parseRealmSettings,
  formatFromFileName,
  COST_FUNCTIONS_PATH,
  HARDWARE_PROFILES_PATH,
  REALM_PATH,
  type ConfigFormat,
  type ParseOptions,
} from './parse.ts';
export type { ReadInclude, IncludedFile } from './hocon/parse.ts';
export { loadHardwareConfigFile, loadRealmSettingsFile, readIncludeFromDisk, readIncludeFromMap } from './load.ts';
export { REALM_DEFAULTS, realmSettingsFromObject } from './decode/realm.ts';
export { CURVE_ALIASES, CURVE_DEFAULTS } from './decode/curve.ts';
