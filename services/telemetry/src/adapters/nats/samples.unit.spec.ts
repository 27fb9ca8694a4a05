import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { eventSchemas } from '@berth/contracts';
import { isWellFormedSample, parseSample } from './samples.ts';

const odd = fc.constantFrom<unknown>(undefined, null, 0, 1, 2, '', 'x', true, false, [], {}, Number.NaN, [1], { a: 'b' });
const maybe = <T>(arb: fc.Arbitrary<T>): fc.Arbitrary<unknown> => fc.oneof({ weight: 15, arbitrary: arb }, { weight: 1, arbitrary: odd });
const statKey = fc.oneof(
  fc.constantFrom('mem_free', 'balloon_cur', '__proto__', 'constructor', 'toString', ''),
  fc.string({ maxLength: 4 }),
);
const stats = maybe(fc.dictionary(statKey, maybe(fc.oneof(fc.integer(), fc.double())), { maxKeys: 5 }));
const caps = maybe(
  fc.record(
    {
      hostMemory: maybe(fc.boolean()),
      ksmStats: maybe(fc.boolean()),
      ksmRun: maybe(fc.boolean()),
      ksmTune: maybe(fc.boolean()),
      cpuTune: maybe(fc.boolean()),
      ioTune: maybe(fc.boolean()),
      balloon: maybe(fc.boolean()),
      hostFiles: maybe(fc.boolean()),
      extra: odd,
    },
    { requiredKeys: ['hostMemory', 'ksmStats', 'ksmRun', 'ksmTune', 'cpuTune', 'ioTune', 'balloon'] },
  ),
);
const disk = maybe(
  fc.record(
    {
      name: maybe(fc.string({ maxLength: 3 })),
      path: maybe(fc.string({ maxLength: 3 })),
      guaranteed: stats,
      maximum: stats,
      current: stats,
      extra: odd,
    },
    { requiredKeys: ['name', 'path', 'guaranteed', 'maximum', 'current'] },
  ),
);
const guest = maybe(
  fc.record(
    { vmId: maybe(fc.string({ maxLength: 3 })), stats, ioTune: maybe(fc.array(disk, { maxLength: 2 })), extra: odd },
    { requiredKeys: ['vmId', 'stats'] },
  ),
);
const sample = maybe(
  fc.record(
    {
      v: maybe(fc.constant(1)),
      hostId: maybe(fc.string({ maxLength: 3 })),
      at: maybe(fc.string({ maxLength: 3 })),
      capabilities: caps,
      host: stats,
      guests: maybe(fc.array(guest, { maxLength: 4 })),
      extra: odd,
    },
    { requiredKeys: ['v', 'hostId', 'at', 'capabilities', 'host', 'guests'] },
  ),
);
// As the service gets them: fresh from JSON.parse (so `__proto__` is an own key where the text has one).
const asReceived = (v: unknown): unknown => JSON.parse(JSON.stringify(v) ?? 'null');

describe('sample intake: the one-pass check (isWellFormedSample) against hostSampleSchema', () => {
  it('accepts only what the schema accepts, and the schema returns it unchanged', () => {
    let accepted = 0;
    fc.assert(
      fc.property(sample, (v) => {
        const raw = asReceived(v);
        if (!isWellFormedSample(raw)) return;
        accepted++;
        const copy = asReceived(raw);
        const r = eventSchemas.hostSampleSchema.safeParse(copy);
        expect(r.success).toBe(true);
        expect(r.data).toEqual(raw);
      }),
      { numRuns: 3000 },
    );
    // the generator reaches the well-formed case often enough for the property to say something
    expect(accepted).toBeGreaterThan(100);
  });

  it("a well-formed sample is taken as it is; a malformed one gets the schema's issue naming the field", () => {
    const good = {
      v: 1,
      hostId: 'h1',
      at: '2026-12-06T10:00:00.000Z',
      capabilities: { hostMemory: true, ksmStats: true, ksmRun: false, ksmTune: true, cpuTune: true, ioTune: true, balloon: true },
      host: { mem_free: 1 },
      guests: [{ vmId: 'vm-1', stats: { balloon_cur: 2 } }],
    };
    const ok = parseSample(good);
    expect(ok.success).toBe(true);
    expect(ok.data).toBe(good);
    const bad = parseSample({ ...good, guests: [{ vmId: 'vm-1', stats: { balloon_cur: 'x' } }] });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues[0]!.path.join('.')).toBe('guests.0.stats.balloon_cur');
    // a guest's disks' I/O limits (MOM's GuestIoTune): taken as they are; a malformed limit is named
    const limits = { total_bytes_sec: 0, read_bytes_sec: 0, write_bytes_sec: 0, total_iops_sec: 300, read_iops_sec: 0, write_iops_sec: 0 };
    const io = { name: 'vda', path: '/p/d0', guaranteed: limits, maximum: limits, current: limits };
    const withIo = { ...good, guests: [{ vmId: 'vm-1', stats: { balloon_cur: 2 }, ioTune: [io] }] };
    expect(isWellFormedSample(withIo)).toBe(true);
    expect(parseSample(withIo).data).toBe(withIo);
    const badIo = parseSample({ ...good, guests: [{ vmId: 'vm-1', stats: {}, ioTune: [{ ...io, current: { total_iops_sec: 'x' } }] }] });
    expect(badIo.success).toBe(false);
    expect(badIo.error!.issues[0]!.path.join('.')).toBe('guests.0.ioTune.0.current.total_iops_sec');
    // an own __proto__ key: not taken as it is; the schema leaves it out
    const proto = parseSample(
      JSON.parse(
        '{"v":1,"hostId":"h1","at":"","capabilities":{"hostMemory":true,"ksmStats":true,"ksmRun":true,"ksmTune":true,"cpuTune":true,"ioTune":true,"balloon":true},"host":{"__proto__":1,"mem_free":1},"guests":[]}',
      ),
    );
    expect(proto.success).toBe(true);
    expect(Object.hasOwn(proto.data!.host, '__proto__')).toBe(false);
  });
});
