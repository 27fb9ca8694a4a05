import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { hostSampleSchema, isStatRecord, statRecord, statValues } from './telemetry.ts';

const caps = { hostMemory: true, ksmStats: true, ksmRun: false, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const sample = (stats: unknown) => ({
  v: 1,
  hostId: 'h1',
  at: 'now',
  capabilities: caps,
  host: { mem_free: 1 },
  guests: [{ vmId: 'vm-1', stats }],
});

// Values as JSON.parse makes them, with the keys and numbers a sample has and the ones it must not have.
const key = fc.oneof(fc.constantFrom('mem_free', 'balloon_cur', '__proto__', 'constructor', 'toString', ''), fc.string());
const value = fc.oneof(
  fc.double(),
  fc.integer(),
  fc.constantFrom(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, null, '1', true, [], {}),
  fc.string(),
);
const record = fc.dictionary(key, value, { maxKeys: 8 });
const anyJson = fc.oneof(record, fc.jsonValue(), fc.dictionary(key, fc.double({ noNaN: true, noDefaultInfinity: true }), { maxKeys: 8 }));

describe("a sample's statistics (statValues: statRecord's answer, checked in one loop)", () => {
  it('accepts exactly what z.record(z.string(), z.number()) accepts, and leaves the same keys', () => {
    fc.assert(
      fc.property(anyJson, (v) => {
        const parsed = (): unknown => JSON.parse(JSON.stringify(v) ?? 'null');
        const reference = statRecord.safeParse(parsed());
        const fast = statValues.safeParse(parsed());
        expect(isStatRecord(parsed())).toBe(reference.success);
        expect(fast.success).toBe(reference.success);
        if (fast.success && reference.success) expect(fast.data).toEqual(reference.data);
      }),
      { numRuns: 1000 },
    );
  }, 60_000);

  it('keeps well-formed statistics as they were parsed (no copy) and strips a __proto__ key as zod does', () => {
    const stats = JSON.parse('{"mem_free": 1, "__proto__": "x", "swap_usage": 0.5}') as Record<string, number>;
    const r = hostSampleSchema.safeParse(sample(stats));
    expect(r.success).toBe(true);
    expect(r.data?.guests[0]?.stats).toBe(stats);
    expect(Object.keys(stats)).toEqual(['mem_free', 'swap_usage']);
  });

  it("names the field and the reason of a malformed statistic, as zod's record does", () => {
    const r = hostSampleSchema.safeParse(sample({ mem_free: 1, balloon_cur: 'lots' }));
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.path).toEqual(['guests', 0, 'stats', 'balloon_cur']);
    expect(r.error?.issues[0]?.message).toMatch(/expected number/);
    const notObject = hostSampleSchema.safeParse(sample([1, 2]));
    expect(notObject.error?.issues[0]?.path).toEqual(['guests', 0, 'stats']);
    expect(notObject.error?.issues[0]?.message).toMatch(/expected record/);
  });
});
