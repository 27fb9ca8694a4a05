import { ValidationError } from '@berth/errors';

const UNIT_MILLIS: Readonly<Record<string, number>> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

const PART = /(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)/gy;

/**
 * Parses a duration such as `500ms`, `5s`, `2m`, `1h`, `1.5s` or `1h30m` into milliseconds.
 * A bare number is taken as milliseconds. Throws ValidationError naming `field` on bad input.
 */
export function parseDuration(text: string, field = 'duration'): number {
  const s = text.trim().toLowerCase();
  const fail = (reason: string): never => {
    throw new ValidationError({ field, reason });
  };
  if (s === '') return fail('is empty; expected a duration such as 500ms, 5s, 2m or 1h');
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s));
  let total = 0;
  let pos = 0;
  PART.lastIndex = 0;
  while (pos < s.length) {
    PART.lastIndex = pos;
    const m = PART.exec(s);
    if (!m) return fail(`"${text}" is not a duration; expected e.g. 500ms, 5s, 2m, 1h or 1h30m`);
    total += Number(m[1]) * (UNIT_MILLIS[m[2] ?? ''] ?? 0);
    pos = PART.lastIndex;
    while (s[pos] === ' ') pos++;
  }
  return Math.round(total);
}
