import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { telemetryEventDefinitions } from './events/schemas/telemetry.ts';
import { decodeDecisionInput, encodeDecisionInput, type DecisionInput, type SampleWire } from './telemetry-input.ts';

const caps = { hostMemory: true, ksmStats: true, ksmRun: false, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const host = (t: number): SampleWire => ({ mem_available: 1000, mem_free: 100 + t, swap_usage: 0 });
const guest = (t: number, extra: Record<string, number> = {}): SampleWire => ({ balloon_cur: 500 + t, balloon_max: 512, ...extra });

function inputAt(t: number, names: readonly string[], length = 10): DecisionInput {
  const window = (f: (i: number) => SampleWire): SampleWire[] =>
    Array.from({ length: Math.min(length, t + 1) }, (_, i) => f(t - Math.min(length, t + 1) + 1 + i));
  return {
    mom: {
      host: window(host),
      host_props: { host_id: 'h1' },
      guests: names.map((name) => ({ name, uuid: name, props: { sla_tier: 'gold', priority: 2 }, history: window((i) => guest(i)) })),
      config: { history_length: length },
    },
    capabilities: caps,
    ioTuneApplied: { 'a/vda': '{"kind":"ioTune"}' },
  };
}

describe('a decision input recorded as a keyframe or a delta', () => {
  it('a keyframe holds every sample as a row of the statistic names and decodes to the same input', () => {
    const input = inputAt(12, ['a', 'b']);
    const rec = encodeDecisionInput(input);
    expect(rec).toMatchObject({
      base: null,
      depth: 0,
      stats: { host: ['mem_available', 'mem_free', 'swap_usage'], guest: ['balloon_cur', 'balloon_max'] },
    });
    expect(rec.mom.host).toEqual({ drop: 0, add: input.mom.host.map((s) => [1000, s['mem_free'], 0]) });
    expect(decodeDecisionInput(rec)).toEqual(input);
  });

  it("a guest's disks' I/O limits are recorded whole beside its rows, in keyframes and deltas, and pass the event schema", () => {
    const limits = {
      total_bytes_sec: 2097152,
      read_bytes_sec: 0,
      write_bytes_sec: 0,
      total_iops_sec: 300,
      read_iops_sec: 0,
      write_iops_sec: 0,
    };
    const io = [{ name: 'vda', path: '/pool/a-disk0', guaranteed: limits, maximum: limits, current: limits }];
    const withIo = (i: DecisionInput): DecisionInput => ({
      ...i,
      mom: { ...i.mom, guests: i.mom.guests.map((g) => (g.name === 'a' ? { ...g, ioTune: io } : g)) },
    });
    const base = withIo(inputAt(12, ['a', 'b']));
    const key = encodeDecisionInput(base);
    expect(key.mom.guests[0]?.ioTune).toEqual(io);
    expect(key.stats.guest).toEqual(['balloon_cur', 'balloon_max']);
    expect(decodeDecisionInput(key)).toEqual(base);
    const later = withIo(inputAt(13, ['a', 'b']));
    const delta = encodeDecisionInput(later, { id: 'd1', depth: 0, input: base });
    expect(decodeDecisionInput(delta, base).mom.guests.map((g) => g.ioTune)).toEqual([io, undefined]);
    const schema = telemetryEventDefinitions.DecisionRecorded.schema;
    const event = {
      hostId: 'h1',
      at: new Date(0).toISOString(),
      policy: { scope: 'default', version: 1, digest: 'x' },
      input: { ...delta, base: '00000000-0000-4000-8000-000000000001' },
      decided: { host: {}, guests: {} },
      excludedGuests: [],
      clamps: [],
      controls: [],
      unsupported: [],
    };
    expect(schema.safeParse(event).success).toBe(true);
    const bad = {
      ...event,
      input: { ...event.input, mom: { ...event.input.mom, guests: [{ ...event.input.mom.guests[0]!, ioTune: [{ name: '' }] }] } },
    };
    expect(schema.safeParse(bad).success).toBe(false);
  });

  it('a delta holds only the samples taken since its base, and drops the ones that left the window', () => {
    const base = inputAt(12, ['a', 'b']);
    // two samples later; the same sample objects where the windows overlap, as the history shares them
    const later = inputAt(14, ['a', 'b']);
    const shared: DecisionInput = {
      ...later,
      mom: {
        ...later.mom,
        host: [...base.mom.host.slice(2), ...later.mom.host.slice(8)],
        guests: later.mom.guests.map((g, i) => ({ ...g, history: [...base.mom.guests[i]!.history.slice(2), ...g.history.slice(8)] })),
      },
    };
    const rec = encodeDecisionInput(shared, { id: 'd1', depth: 3, input: base });
    expect(rec).toMatchObject({ base: 'd1', depth: 4 });
    expect(rec.mom.host).toEqual({
      drop: 2,
      add: [
        [1000, 113, 0],
        [1000, 114, 0],
      ],
    });
    expect(rec.mom.guests.map((g) => g.history)).toEqual([
      {
        drop: 2,
        add: [
          [513, 512],
          [514, 512],
        ],
      },
      {
        drop: 2,
        add: [
          [513, 512],
          [514, 512],
        ],
      },
    ]);
    expect(decodeDecisionInput(rec, base)).toEqual(shared);
  });

  it('a guest new since the base comes whole, a changed sample breaks the overlap, a missing statistic stays missing', () => {
    const base = inputAt(5, ['a']);
    const cur = inputAt(6, ['a', 'c']);
    // guest a's floor changed in every sample (its SLA class moved): nothing of the base window is reused
    const a = cur.mom.guests[0]!;
    const changed: DecisionInput = {
      ...cur,
      mom: {
        ...cur.mom,
        guests: [
          { ...a, history: a.history.map((s) => ({ ...s, balloon_min: 384 })) },
          { ...cur.mom.guests[1]!, history: [guest(6, { swap_in: 3 }), { balloon_cur: 1 }] },
        ],
      },
    };
    const rec = encodeDecisionInput(changed, { id: 'd1', depth: 0, input: base });
    expect(rec.mom.guests[0]!.history.drop).toBe(6);
    expect(rec.mom.guests[0]!.history.add).toHaveLength(7);
    expect(rec.mom.guests[1]!.history).toEqual({ drop: 0, add: [[506, 512, null, 3], [1]] });
    const back = decodeDecisionInput(rec, base);
    expect(back).toEqual(changed);
    expect(Object.keys(back.mom.guests[1]!.history[1]!)).toEqual(['balloon_cur']);
  });

  it('a delta without its base, or one that does not fit it, is refused', () => {
    const rec = encodeDecisionInput(inputAt(3, ['a'], 2), { id: 'd0', depth: 0, input: inputAt(2, ['a'], 2) });
    expect(rec.mom.host.drop).toBe(1);
    expect(() => decodeDecisionInput(rec)).toThrow(/delta against decision d0/);
    expect(() => decodeDecisionInput(rec, { ...inputAt(0, ['a']), mom: { ...inputAt(0, ['a']).mom, host: [] } })).toThrow(/host: drops 1/);
  });

  it('any window after any base decodes to exactly the input (property)', () => {
    const sample = fc.dictionary(
      fc.constantFrom('a', 'b', 'c', 'd'),
      fc.oneof(
        fc.integer(),
        fc.double({ noNaN: true, noDefaultInfinity: true }).filter((x) => !Object.is(x, -0)),
      ),
    );
    const samples = fc.array(sample, { maxLength: 6 });
    const guests = fc.uniqueArray(fc.record({ name: fc.constantFrom('g1', 'g2', 'g3'), history: samples }), {
      selector: (g) => g.name,
      maxLength: 3,
    });
    const input = (h: SampleWire[], gs: { name: string; history: SampleWire[] }[]): DecisionInput => ({
      mom: {
        host: h,
        host_props: { host_id: 'h' },
        guests: gs.map((g) => ({ ...g, uuid: g.name, props: {} })),
        config: { history_length: 6 },
      },
      capabilities: caps,
      ioTuneApplied: {},
    });
    fc.assert(
      fc.property(samples, guests, samples, guests, fc.nat(6), (bh, bg, nh, ng, keep) => {
        const base = input(bh, bg);
        // the new window: often the end of the base's (the history slid), then new samples
        const slide = (old: SampleWire[], fresh: SampleWire[]): SampleWire[] =>
          [...old.slice(Math.max(0, old.length - keep)), ...fresh].slice(-6);
        const cur = input(
          slide(bh, nh),
          ng.map((g) => ({ name: g.name, history: slide(bg.find((b) => b.name === g.name)?.history ?? [], g.history) })),
        );
        const rec = JSON.parse(JSON.stringify(encodeDecisionInput(cur, { id: 'b', depth: 0, input: base }))) as ReturnType<
          typeof encodeDecisionInput
        >;
        expect(decodeDecisionInput(rec, base)).toEqual(cur);
      }),
      { numRuns: 300 },
    );
  });
});
