import { ConfigFileError, joinKey } from './errors.ts';
import { decodeCostFunction, decodeProfile } from './decode/hardware.ts';
import { at } from './decode/read.ts';
import { decodeRealm } from './decode/realm.ts';
import type { HObject } from './hocon/nodes.ts';
import { parseHocon, type ReadInclude } from './hocon/parse.ts';
import { parseYamlTree } from './hocon/yaml.ts';
import type { CostFunctionSpec, HardwareConfig, HardwareProfile, RealmSettings } from './model.ts';

export type ConfigFormat = 'hocon' | 'json' | 'yaml';

export interface ParseOptions {
  /** Shown in errors (`file:line: key: reason`) and the base for relative includes. */
  readonly file: string;
  /** Default: from the file name (.json, .yaml/.yml, anything else HOCON). */
  readonly format?: ConfigFormat;
  /** Needed only when the text has `include`s. */
  readonly readInclude?: ReadInclude;
}

export const COST_FUNCTIONS_PATH = ['ticrypt', 'vm', 'cost-functions'] as const;
export const HARDWARE_PROFILES_PATH = ['ticrypt', 'vm', 'hardware-profiles'] as const;
export const REALM_PATH = ['berth', 'realm'] as const;

export function formatFromFileName(file: string): ConfigFormat {
  const lower = file.toLowerCase();
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  return 'hocon';
}

/** JSON is a subset of HOCON, so one parser (with line numbers) reads both. */
function parseTree(text: string, options: ParseOptions): HObject {
  const format = options.format ?? formatFromFileName(options.file);
  if (format === 'yaml') return parseYamlTree(text, options.file);
  return parseHocon(text, { file: options.file, ...(options.readInclude && { readInclude: options.readInclude }) });
}

/** Cost functions, hardware profiles and (optionally) Berth's realm settings from one configuration text. */
export function parseHardwareConfig(text: string, options: ParseOptions): HardwareConfig {
  const root = parseTree(text, options);
  const cfSection = at(root, COST_FUNCTIONS_PATH);
  const profileSection = at(root, HARDWARE_PROFILES_PATH);
  const realmSection = at(root, REALM_PATH);
  if (!cfSection && !profileSection && !realmSection) {
    throw new ConfigFileError(
      root.pos,
      '',
      `no ${COST_FUNCTIONS_PATH.join('.')}, ${HARDWARE_PROFILES_PATH.join('.')} or ${REALM_PATH.join('.')} section`,
    );
  }
  const costFunctions: Record<string, CostFunctionSpec> = {};
  for (const [id, node] of cfSection?.node.fields ?? []) {
    costFunctions[id] = decodeCostFunction(id, node, joinKey(cfSection!.key, id));
  }
  const ids = new Set(Object.keys(costFunctions));
  const profiles: Record<string, HardwareProfile> = {};
  for (const [id, node] of profileSection?.node.fields ?? []) {
    profiles[id] = decodeProfile(id, node, joinKey(profileSection!.key, id), ids);
  }
  const realm = realmSection && decodeRealm(realmSection.node, realmSection.key);
  return { costFunctions, profiles, ...(realm && { realm }) };
}

/** A tiCrypt-style realm file: the realm parameters at its top level (not inside sections). */
export function parseRealmSettings(text: string, options: ParseOptions): RealmSettings {
  return decodeRealm(parseTree(text, options), '');
}
