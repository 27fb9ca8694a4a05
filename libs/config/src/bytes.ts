import { ValidationError } from '@berth/errors';

const K = 1000;
const KI = 1024;

// Units are case-insensitive on purpose: operators write "32 Gib" (the tiCrypt seed does) and mean GiB.
// Two-letter units follow SI (KB = 1000); `i` units and single letters follow libvirt/QEMU (G = GiB).
const UNIT_BYTES: Readonly<Record<string, number>> = {
  b: 1,
  kb: K,
  mb: K ** 2,
  gb: K ** 3,
  tb: K ** 4,
  pb: K ** 5,
  k: KI,
  m: KI ** 2,
  g: KI ** 3,
  t: KI ** 4,
  p: KI ** 5,
  ki: KI,
  mi: KI ** 2,
  gi: KI ** 3,
  ti: KI ** 4,
  pi: KI ** 5,
  kib: KI,
  mib: KI ** 2,
  gib: KI ** 3,
  tib: KI ** 4,
  pib: KI ** 5,
};

const PATTERN = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/;

/**
 * Parses a size such as `32 GiB`, `64 MiB`, `18GiB`, `4 GB`, `704G` or `1073741824` into bytes.
 * Throws ValidationError naming `field` on bad input or a result that is not a safe integer.
 */
export function parseBytes(text: string | number, field = 'bytes'): number {
  const fail = (reason: string): never => {
    throw new ValidationError({ field, reason });
  };
  if (typeof text === 'number') {
    if (!Number.isSafeInteger(text) || text < 0) return fail(`${text} is not a non-negative whole number of bytes`);
    return text;
  }
  const m = PATTERN.exec(text.trim().toLowerCase());
  if (!m) return fail(`"${text}" is not a size; expected e.g. 32 GiB, 64 MiB, 4 GB or a number of bytes`);
  const unit = m[2] ?? '';
  const factor = unit === '' ? 1 : UNIT_BYTES[unit];
  if (factor === undefined) {
    return fail(`"${text}" has unknown unit "${unit}"; use B, KB, MB, GB, TB, KiB, MiB, GiB or TiB`);
  }
  const raw = Number(m[1]) * factor;
  // Decimal fractions (0.3 KB) carry float noise; anything further than that from a whole byte is wrong.
  const bytes = Math.abs(raw - Math.round(raw)) < 1e-6 ? Math.round(raw) : raw;
  if (!Number.isInteger(bytes)) return fail(`"${text}" is not a whole number of bytes`);
  if (!Number.isSafeInteger(bytes)) return fail(`"${text}" is too large`);
  return bytes;
}
