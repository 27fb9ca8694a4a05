import { readBytes, readDuration } from '@berth/config/units';
import { UsageError } from './errors.ts';

/** Option values from strings, each failure naming the option. */

export function int(text: string, field: string, min = 0, max = Number.MAX_SAFE_INTEGER): number {
  const n = /^[+-]?\d+$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n)) throw new UsageError(field, `expected a whole number, got "${text}"`);
  if (n < min || n > max) throw new UsageError(field, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

export function real(text: string, field: string, min = -Infinity, max = Infinity): number {
  const n = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/.test(text.trim()) ? Number(text) : NaN;
  if (!Number.isFinite(n)) throw new UsageError(field, `expected a number, got "${text}"`);
  if (n < min || n > max) throw new UsageError(field, `must be between ${min} and ${max}, got ${n}`);
  return n;
}

/** `4GiB`, `512 MiB`, `1073741824`. */
export function bytes(text: string, field: string): number {
  const n = readBytes(text);
  if (!n.ok) throw new UsageError(field, `${n.reason}, got "${text}"`);
  return n.value;
}

/** `10s`, `5m`, `500ms`, `1h30m`; a bare number is milliseconds. */
export function duration(text: string, field: string): number {
  const ms = readDuration(text);
  if (!ms.ok) throw new UsageError(field, ms.reason);
  return ms.value;
}

export function oneOf<T extends string>(text: string, field: string, allowed: readonly T[]): T {
  const t = text.trim().toLowerCase();
  if (!(allowed as readonly string[]).includes(t)) throw new UsageError(field, `expected one of ${allowed.join(', ')}, got "${text}"`);
  return t as T;
}

/**
 * `a=1,b=2,flag` -> { a: '1', b: '2', flag: '' }. A part that names no key continues the previous
 * value, so lists need no escaping: `cpus=0-7,16-23,memory=64GiB`.
 */
export function keyValues(text: string, field: string, allowed: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  let last: string | undefined;
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const eq = part.indexOf('=');
    const key = eq < 0 ? part : part.slice(0, eq);
    if (!allowed.includes(key)) {
      if (last !== undefined && eq < 0) {
        out[last] += `,${part}`;
        continue;
      }
      throw new UsageError(field, `unknown key "${key}" (expected ${allowed.join(', ')})`);
    }
    out[key] = eq < 0 ? '' : part.slice(eq + 1);
    last = eq < 0 ? undefined : key;
  }
  return out;
}

/** `0-3,8,10-11` -> [0,1,2,3,8,10,11]. */
export function cpuList(text: string, field: string): number[] {
  const out: number[] = [];
  for (const part of text
    .split(',')
    .map((p) => p.trim())
    .filter((p) => p !== '')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) throw new UsageError(field, `expected CPU ids like 0-7,16, got "${part}"`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from) throw new UsageError(field, `range ${part} runs backwards`);
    for (let c = from; c <= to; c++) out.push(c);
  }
  return out;
}
