import { ConfigFileError, joinKey } from '../errors.ts';
import type { HNode, HObject, Pos } from '../hocon/nodes.ts';
import { readBytes, readDuration } from '@berth/config/units';
import { parseNumber } from '../units.ts';

/** Typed reads from the positioned tree; every failure names the file, line and full key. */

export function fail(at: Pos | HNode, key: string, reason: string): never {
  throw new ConfigFileError('kind' in at ? at.pos : at, key, reason);
}

export function asObject(node: HNode, key: string, what = 'an object'): HObject {
  if (node.kind === 'scalar' && node.unsupported) fail(node, key, node.unsupported);
  if (node.kind !== 'object') fail(node, key, `expected ${what}`);
  return node;
}

/** Rejects keys the schema does not know, so a misspelt parameter is an error instead of a silent default. */
export function checkKnown(obj: HObject, key: string, allowed: readonly string[]): void {
  for (const [name, node] of obj.fields) {
    if (!allowed.includes(name)) fail(node, joinKey(key, name), `unknown parameter (expected one of: ${allowed.join(', ')})`);
  }
}

export function required(obj: HObject, key: string, name: string): HNode {
  const node = obj.fields.get(name);
  if (node === undefined) fail(obj, joinKey(key, name), 'is required');
  return node;
}

function scalarText(node: HNode, key: string, expected: string): string {
  if (node.kind === 'scalar' && node.unsupported) fail(node, key, node.unsupported);
  if (node.kind !== 'scalar' || (!node.quoted && node.text === 'null')) fail(node, key, `expected ${expected}`);
  return node.text;
}

export function asNumber(node: HNode, key: string): number {
  const n = parseNumber(scalarText(node, key, 'a number'));
  if (n === undefined || !Number.isFinite(n)) fail(node, key, 'expected a number');
  return n;
}

export function asInt(node: HNode, key: string, min = 0): number {
  const n = asNumber(node, key);
  if (!Number.isInteger(n)) fail(node, key, 'expected a whole number');
  if (n < min) fail(node, key, `must be at least ${min}`);
  return n;
}

export function asBytes(node: HNode, key: string): number {
  const bytes = readBytes(scalarText(node, key, 'bytes (e.g. 32 GiB)'));
  return bytes.ok ? bytes.value : fail(node, key, bytes.reason);
}

/** RealOrBytes: `1.0`, `-8` or `32 GiB` (bytes become numbers of bytes). */
export function asRealOrBytes(node: HNode, key: string): number {
  const text = scalarText(node, key, 'a number or bytes');
  const n = parseNumber(text);
  if (n !== undefined) return n;
  if (!/^[\d.]+\s*[A-Za-z]+$/.test(text.trim())) fail(node, key, 'expected a number or bytes');
  const bytes = readBytes(text);
  return bytes.ok ? bytes.value : fail(node, key, bytes.reason);
}

export function asString(node: HNode, key: string): string {
  return scalarText(node, key, 'a string');
}

export function asNonEmptyString(node: HNode, key: string): string {
  const s = asString(node, key).trim();
  if (s === '') fail(node, key, 'must not be empty');
  return s;
}

export function asBool(node: HNode, key: string): boolean {
  const t = scalarText(node, key, 'a boolean').trim().toLowerCase();
  if (t === 'true' || t === 'yes' || t === 'on') return true;
  if (t === 'false' || t === 'no' || t === 'off') return false;
  return fail(node, key, 'expected a boolean (true/false, yes/no, on/off)');
}

export function asDurationMillis(node: HNode, key: string): number {
  const ms = readDuration(scalarText(node, key, 'a duration'));
  return ms.ok ? ms.value : fail(node, key, ms.reason);
}

/** Reads an optional field with `read`, or returns undefined. */
export function optional<T>(obj: HObject, key: string, name: string, read: (node: HNode, key: string) => T): T | undefined {
  const node = obj.fields.get(name);
  return node === undefined ? undefined : read(node, joinKey(key, name));
}

/** Follows a dotted path of object fields; undefined when any step is missing. */
export function at(root: HObject, path: readonly string[], keyPrefix = ''): { node: HObject; key: string } | undefined {
  let node: HObject = root;
  let key = keyPrefix;
  for (const segment of path) {
    const next = node.fields.get(segment);
    key = joinKey(key, segment);
    if (next === undefined) return undefined;
    node = asObject(next, key);
  }
  return { node, key };
}
