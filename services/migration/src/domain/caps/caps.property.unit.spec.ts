import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { admit, admitMany, countSlots, type InFlightMigration, type MigrationCaps } from './caps.ts';

const hosts = ['a', 'b', 'c', 'd', 'e', 'f'];

/** One step of the fleet: a drain, a manual migration or the balancer asks; or a migration ends. */
type Step =
  | { kind: 'drain'; source: number; dests: number[] }
  | { kind: 'manual'; source: number; dest: number | null }
  | { kind: 'balancer'; source: number; dest: number }
  | { kind: 'finish'; index: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('drain' as const), source: fc.nat(5), dests: fc.array(fc.nat(5), { minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('manual' as const), source: fc.nat(5), dest: fc.option(fc.nat(5), { nil: null }) }),
  fc.record({ kind: fc.constant('balancer' as const), source: fc.nat(5), dest: fc.nat(5) }),
  fc.record({ kind: fc.constant('finish' as const), index: fc.nat(10) }),
);

const arbCaps: fc.Arbitrary<MigrationCaps> = fc.record({
  fleet: fc.integer({ min: 1, max: 6 }),
  outboundPerHost: fc.integer({ min: 1, max: 3 }),
  inboundPerHost: fc.integer({ min: 1, max: 3 }),
});

function holds(caps: MigrationCaps, inFlight: readonly InFlightMigration[]): void {
  const c = countSlots(inFlight);
  expect(c.total).toBeLessThanOrEqual(caps.fleet);
  for (const n of c.outbound.values()) expect(n).toBeLessThanOrEqual(caps.outboundPerHost);
  for (const n of c.inbound.values()) expect(n).toBeLessThanOrEqual(caps.inboundPerHost);
  expect(c.vms.size).toBe(inFlight.length);
}

describe('migration caps (properties)', () => {
  it('hold under any interleaving of drains, manual migrations, the balancer and completions', () => {
    fc.assert(
      fc.property(arbCaps, fc.array(arbStep, { maxLength: 60 }), (caps, steps) => {
        let inFlight: InFlightMigration[] = [];
        let n = 0;
        for (const s of steps) {
          if (s.kind === 'finish') {
            inFlight = inFlight.filter((_, i) => i !== s.index % Math.max(1, inFlight.length));
          } else if (s.kind === 'drain') {
            const queue = s.dests
              .filter((d) => d !== s.source)
              .map((d) => ({ vmId: `vm${n++}`, sourceHostId: hosts[s.source]!, destinationHostId: hosts[d]! }));
            const r = admitMany(caps, inFlight, queue);
            expect(r.admitted.length + r.waiting.length).toBe(queue.length);
            inFlight = [...inFlight, ...r.admitted];
          } else {
            const dest = s.dest;
            const req = {
              vmId: `vm${n++}`,
              sourceHostId: hosts[s.source]!,
              ...(dest !== null && dest !== s.source ? { destinationHostId: hosts[dest]! } : {}),
            };
            if (admit(caps, inFlight, req).admitted) inFlight = [...inFlight, req];
          }
          holds(caps, inFlight);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('admitMany fills every slot it can: anything left waiting is held by a cap that is full', () => {
    fc.assert(
      fc.property(arbCaps, fc.array(fc.tuple(fc.nat(5), fc.nat(5)), { maxLength: 20 }), (caps, pairs) => {
        const queue = pairs
          .filter(([s, d]) => s !== d)
          .map(([s, d], i) => ({ vmId: `vm${i}`, sourceHostId: hosts[s]!, destinationHostId: hosts[d]! }));
        const r = admitMany(caps, [], queue);
        const c = countSlots(r.admitted);
        for (const w of r.waiting) {
          const full =
            w.cap === 'fleet'
              ? c.total >= caps.fleet
              : w.cap === 'outbound'
                ? (c.outbound.get(w.request.sourceHostId) ?? 0) >= caps.outboundPerHost
                : (c.inbound.get(w.request.destinationHostId) ?? 0) >= caps.inboundPerHost;
          expect(full).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('refuses a VM already migrating', () => {
    const r = admit({ fleet: 5, outboundPerHost: 2, inboundPerHost: 2 }, [{ vmId: 'v', sourceHostId: 'a', destinationHostId: 'b' }], {
      vmId: 'v',
      sourceHostId: 'a',
    });
    expect(r).toMatchObject({ admitted: false, cap: 'vm-busy' });
  });
});
