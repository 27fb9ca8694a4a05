import { bad, ok, orThrow, type Parsed } from './result.ts';

// Berth's one unit table for durations (environment variables, HOCON, the realm table, the CLI).
// A bare number is milliseconds, as HOCON says.
const UNIT_MILLIS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  nanosecond: 1e-6,
  us: 1e-3,
  microsecond: 1e-3,
  ms: 1,
  milli: 1,
  millisecond: 1,
  s: 1000,
  sec: 1000,
  second: 1000,
  m: 60_000,
  min: 60_000,
  minute: 60_000,
  h: 3_600_000,
  hour: 3_600_000,
  d: 86_400_000,
  day: 86_400_000,
};

const unitMillis = (unit: string): number | undefined =>
  UNIT_MILLIS[unit] ?? (unit.endsWith('s') ? UNIT_MILLIS[unit.slice(0, -1)] : undefined);

const PART = /(\d+(?:\.\d+)?)\s*([a-z]+)\s*/y;

/** `500ms`, `30 s`, `5m`, `2 minutes`, `1h30m`, `250` (ms) -> milliseconds, or why not. */
export function readDuration(text: string): Parsed<number> {
  const s = text.trim().toLowerCase();
  const expected = `expected a duration such as 500ms, 30s, 5m or 1h30m ("${text}" is not a duration)`;
  if (/^\d+(\.\d+)?$/.test(s)) return ok(Math.round(Number(s)));
  if (s === '') return bad(expected);
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < s.length) {
    const m = PART.exec(s);
    if (!m) return bad(expected);
    const factor = unitMillis(m[2] ?? '');
    if (factor === undefined) return bad(`unknown duration unit "${m[2]}" (use ms, s, m, h, d)`);
    total += Number(m[1]) * factor;
  }
  return ok(Math.round(total));
}

/** readDuration, throwing a ValidationError naming `field` on bad input. */
export function parseDuration(text: string, field = 'duration'): number {
  return orThrow(readDuration(text), field);
}
