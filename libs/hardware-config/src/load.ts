import { existsSync, readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join, posix } from 'node:path';
import type { ReadInclude } from './hocon/parse.ts';
import type { HardwareConfig, RealmSettings } from './model.ts';
import { parseHardwareConfig, parseRealmSettings, type ConfigFormat } from './parse.ts';

/** Includes resolved on disk relative to the including file (read synchronously: the parser is synchronous). */
export const readIncludeFromDisk: ReadInclude = (name, fromFile) => {
  const file = join(dirname(fromFile), name);
  if (!existsSync(file)) return undefined;
  return { file, text: readFileSync(file, 'utf8') };
};

/** Includes served from memory (tests, or text sent over the wire with its includes). */
export function readIncludeFromMap(files: Readonly<Record<string, string>>): ReadInclude {
  return (name, fromFile) => {
    const file = posix.join(posix.dirname(fromFile), name);
    const text = files[file];
    return text === undefined ? undefined : { file, text };
  };
}

export async function loadHardwareConfigFile(path: string, format?: ConfigFormat): Promise<HardwareConfig> {
  const text = await readFile(path, 'utf8');
  return parseHardwareConfig(text, { file: path, readInclude: readIncludeFromDisk, ...(format && { format }) });
}

export async function loadRealmSettingsFile(path: string, format?: ConfigFormat): Promise<RealmSettings> {
  const text = await readFile(path, 'utf8');
  return parseRealmSettings(text, { file: path, readInclude: readIncludeFromDisk, ...(format && { format }) });
}
