import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { sql } from 'kysely';
import { ConcurrencyError } from '@berth/errors';
import { infraAvailable, uniqueSuffix } from '@berth/testing';
import { useTestStore } from './testing/store-fixture.ts';

interface Attempt {
  readonly stream: number;
  readonly expected: number;
  readonly count: number;
  readonly delayMillis: number;
}

const attempt = fc.record({
  stream: fc.integer({ min: 0, max: 2 }),
  expected: fc.integer({ min: 0, max: 4 }),
  count: fc.integer({ min: 1, max: 3 }),
  delayMillis: fc.integer({ min: 0, max: 3 }),
});

describe.skipIf(!(await infraAvailable('postgres')))('concurrent appends (property)', () => {
  const t = useTestStore('es_concurrency', 8);

  it('any interleaving: one winner per expected version, losers get ConcurrencyError, versions stay gapless', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(attempt, { minLength: 2, maxLength: 24 }), async (attempts) => {
        const run = uniqueSuffix();
        const streamId = (i: number): string => `s${i}-${run}`;
        // Half of the appends go through explicit transactions that linger before committing.
        const outcomes = await Promise.allSettled(
          attempts.map(async (a: Attempt, i) => {
            const events = Array.from({ length: a.count }, (_, k) => ({ type: 'Appended', data: { attempt: i, k } }));
            const opts = { expectedVersion: a.expected === 0 ? ('no-stream' as const) : a.expected };
            if (i % 2 === 0) return t.store.append(streamId(a.stream), events, opts);
            return t.store.transaction(async (tx) => {
              const r = await tx.append(streamId(a.stream), events, opts);
              await new Promise((resolve) => setTimeout(resolve, a.delayMillis));
              return r;
            });
          }),
        );
        for (const o of outcomes) {
          if (o.status === 'rejected') expect(o.reason).toBeInstanceOf(ConcurrencyError);
        }
        for (const s of new Set(attempts.map((a) => a.stream))) {
          const mine = attempts.map((a, i) => ({ a, o: outcomes[i]!, i })).filter((x) => x.a.stream === s);
          const winners = mine.filter((x) => x.o.status === 'fulfilled');
          const { version, events } = await t.store.readStream(streamId(s));
          // Winners chain from version 0 to the final version, one per expected version.
          const byExpected = new Map<number, number>();
          for (const w of winners) byExpected.set(w.a.expected, (byExpected.get(w.a.expected) ?? 0) + 1);
          expect([...byExpected.values()].every((n) => n === 1)).toBe(true);
          let v = 0;
          for (const w of [...winners].sort((x, y) => x.a.expected - y.a.expected)) {
            expect(w.a.expected).toBe(v);
            v += w.a.count;
          }
          expect(version).toBe(v);
          // Something always starts a stream that someone expected to be new.
          if (mine.some((x) => x.a.expected === 0)) expect(byExpected.get(0)).toBe(1);
          expect(events.map((e) => e.streamPosition)).toEqual(Array.from({ length: version }, (_, k) => k + 1));
          // Each winner's events are contiguous and in its own order.
          for (const w of winners) {
            const own = events.filter((e) => (e.data as { attempt: number }).attempt === w.i);
            expect(own.map((e) => e.streamPosition)).toEqual(Array.from({ length: w.a.count }, (_, k) => w.a.expected + k + 1));
          }
          for (const l of mine.filter((x) => x.o.status === 'rejected')) {
            expect(events.some((e) => (e.data as { attempt: number }).attempt === l.i)).toBe(false);
          }
        }
        const { rows } = await sql<{ n: string }>`SELECT count(*) AS n FROM streams s
          WHERE s.version <> (SELECT count(*) FROM events e WHERE e.stream_id = s.stream_id)`.execute(t.db);
        expect(rows[0]!.n).toBe('0');
      }),
      { numRuns: 40 },
    );
  });
});
