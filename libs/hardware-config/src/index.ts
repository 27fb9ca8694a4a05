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
export { REALM_DEFAULTS } from './decode/realm.ts';
export { parseBytes, parseDurationMillis } from './units.ts';
export { normalizePciAddress } from './pci.ts';
