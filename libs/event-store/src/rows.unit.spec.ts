import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { isoOfTimestamptz } from './rows.ts';

/** What every read gave before: pg's parser, then Date's ISO text. */
const viaDate = (text: string): string =>
  (pg.types.getTypeParser(pg.types.builtins.TIMESTAMPTZ) as (t: string) => Date)(text).toISOString();

describe('isoOfTimestamptz', () => {
  it("gives the text pg's Date gave, for every fraction Postgres prints in UTC", () => {
    // Postgres prints 0 to 6 fractional digits (trailing zeros dropped); the cut must match Date's for each.
    const fractions = ['', '.5', '.57', '.001', '.0289', '.999999', '.123456', '.1', '.99', '.000001'];
    for (let i = 0; i < 5000; i++) fractions.push(`.${String(i * 199).padStart(6, '0')}`.replace(/0+$/, '').replace(/\.$/, ''));
    for (const f of fractions) {
      const text = `2026-12-07 15:32:58${f}+00`;
      expect(isoOfTimestamptz(text), text).toBe(viaDate(text));
    }
    expect(isoOfTimestamptz('2026-12-07 15:32:58.57+00')).toBe('2026-12-07T15:32:58.570Z');
    expect(isoOfTimestamptz('2026-01-02 03:04:05+00')).toBe('2026-01-02T03:04:05.000Z');
  });

  it('takes text in another zone through the parser', () => {
    expect(isoOfTimestamptz('2026-12-07 16:32:58.25+01')).toBe('2026-12-07T15:32:58.250Z');
    expect(isoOfTimestamptz('2026-12-07 10:02:58.5-05:30')).toBe(viaDate('2026-12-07 10:02:58.5-05:30'));
  });
});
