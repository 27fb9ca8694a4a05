import { bad, ok, orThrow, type Parsed } from './result.ts';

// Berth's one unit table for sizes: environment variables, HOCON hardware profiles, the realm table
// and the CLI all read sizes through it.
// Units are case-insensitive on purpose: operators write "32 Gib" (the tiCrypt seed does) and mean GiB.
// `*B` with a decimal prefix is SI (KB = 1000, as HOCON says); single letters and `*i`/`*iB` are powers
// of 1024 (G = GiB, as libvirt and QEMU read them). HOCON's long forms (`gibibytes`, `megabyte`) count too.
const K = 1000;
const KI = 1024;
const PREFIXES = ['k', 'm', 'g', 't', 'p'] as const;
const LONG: Readonly<Record<string, number>> = {
  byte: 1,
  kilobyte: K,
  megabyte: K ** 2,
  gigabyte: K ** 3,
  terabyte: K ** 4,
  petabyte: K ** 5,
  kibibyte: KI,
  mebibyte: KI ** 2,
  gibibyte: KI ** 3,
  tebibyte: KI ** 4,
  pebibyte: KI ** 5,
};

function unitFactor(unit: string): number | undefined {
  const u = unit.toLowerCase();
  if (u === '' || u === 'b') return 1;
  const long = LONG[u.endsWith('s') ? u.slice(0, -1) : u];
  if (long !== undefined) return long;
  const power = PREFIXES.indexOf(u[0] as (typeof PREFIXES)[number]) + 1;
  if (power === 0) return undefined;
  const rest = u.slice(1);
  if (rest === '' || rest === 'i' || rest === 'ib') return KI ** power;
  if (rest === 'b') return K ** power;
  return undefined;
}

const PATTERN = /^([+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:e[+-]?\d+)?)\s*([a-z]*)$/i;

/** `32`, `64 MiB`, `18GiB`, `1.5 GiB`, `4 GB`, `704G`, `2 gibibytes` -> bytes, or why not. */
export function readBytes(text: string | number): Parsed<number> {
  if (typeof text === 'number') {
    return Number.isSafeInteger(text) && text >= 0 ? ok(text) : bad(`${text} is not a non-negative whole number of bytes`);
  }
  const m = PATTERN.exec(text.trim());
  if (!m) return bad('expected bytes (a number with an optional unit such as 32 GiB)');
  const factor = unitFactor(m[2] ?? '');
  if (factor === undefined) return bad(`unknown byte unit "${m[2]}" (use B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)`);
  const raw = Number(m[1]) * factor;
  if (raw < 0) return bad('must not be negative');
  // Decimal fractions (0.3 KB) carry float noise; anything further than that from a whole byte is wrong.
  const bytes = Math.abs(raw - Math.round(raw)) < 1e-6 ? Math.round(raw) : raw;
  if (!Number.isInteger(bytes)) return bad(`${text.trim()} is not a whole number of bytes`);
  if (!Number.isSafeInteger(bytes)) return bad(`${text.trim()} is too large`);
  return ok(bytes);
}

/** readBytes, throwing a ValidationError naming `field` on bad input. */
export function parseBytes(text: string | number, field = 'bytes'): number {
  return orThrow(readBytes(text), field);
}
