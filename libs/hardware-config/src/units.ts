/**
 * Sizes and durations as HOCON writes them. Byte units are case-insensitive (the seed writes
 * `32 Gib`): single letters and `*iB` are powers of 1024 (`K`, `Ki`, `KiB`), `*B` with a decimal
 * prefix are powers of 1000 (`kB`, `MB`, `GB`), as in the HOCON specification.
 */

const BINARY = ['k', 'm', 'g', 't', 'p'];

function unitFactor(unit: string): number | undefined {
  const u = unit.toLowerCase();
  if (u === '' || u === 'b' || u === 'byte' || u === 'bytes') return 1;
  const longForms: Record<string, number> = {
    kilobyte: 1e3, megabyte: 1e6, gigabyte: 1e9, terabyte: 1e12, petabyte: 1e15,
    kibibyte: 1024, mebibyte: 1024 ** 2, gibibyte: 1024 ** 3, tebibyte: 1024 ** 4, pebibyte: 1024 ** 5,
  };
  const long = longForms[u.replace(/s$/, '')];
  if (long !== undefined) return long;
  const power = BINARY.indexOf(u[0] ?? '') + 1;
  if (power === 0) return undefined;
  const rest = u.slice(1);
  if (rest === '' || rest === 'i' || rest === 'ib') return 1024 ** power;
  if (rest === 'b') return 1000 ** power;
  return undefined;
}

const NUMBER = /^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$/;

export function parseNumber(text: string): number | undefined {
  const t = text.trim();
  return NUMBER.test(t) ? Number(t) : undefined;
}

/** `32`, `64 MiB`, `18 GiB`, `1.5 GiB` -> bytes; a reason string when it is not a size. */
export function parseBytes(text: string): number | string {
  const m = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  if (!m) return 'expected bytes (a number with an optional unit such as 32 GiB)';
  const factor = unitFactor(m[2]!);
  if (factor === undefined) return `unknown byte unit "${m[2]}" (use B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)`;
  const bytes = Number(m[1]) * factor;
  if (!Number.isSafeInteger(bytes)) return `${text.trim()} is not a whole number of bytes`;
  if (bytes < 0) return 'must not be negative';
  return bytes;
}

const DURATION_UNITS: Record<string, number> = {
  ns: 1e-6, nanosecond: 1e-6, us: 1e-3, microsecond: 1e-3,
  '': 1, ms: 1, milli: 1, millis: 1, millisecond: 1,
  s: 1000, second: 1000, m: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000, d: 86_400_000, day: 86_400_000,
};

/** `5m`, `30 s`, `500ms`, `2 minutes`; a plain number is milliseconds (HOCON). */
export function parseDurationMillis(text: string): number | string {
  const m = /^(\d+(?:\.\d+)?)\s*([A-Za-z]*)$/.exec(text.trim());
  if (!m) return 'expected a duration such as 30s, 5m or 500ms';
  const unit = m[2]!.toLowerCase();
  const factor = DURATION_UNITS[unit] ?? DURATION_UNITS[unit.replace(/s$/, '')];
  if (factor === undefined) return `unknown duration unit "${m[2]}" (use ms, s, m, h, d)`;
  return Math.round(Number(m[1]) * factor);
}
