import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { applyClaim, releaseClaim, type Claim, type HostSnapshot } from '@berth/fit';
import { placeVm, type PlaceVmDeps } from '../../application/place-vm.ts';
import { DecisionLog } from '../../application/decision-log.ts';
import type { ClaimOutcome, ClaimRequest, InventoryPort } from '../../application/ports.ts';
import { claimOf, FakeSource, host, vm } from '../../testing/fake-ports.ts';
import { InFlightView } from './in-flight.ts';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from './scoring-engine.ts';

const spread = () => new InFlightView(new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {})));

describe('InFlightView', () => {
  it('scores a reserved claim against its host, and candidates keep the generation inventory published', () => {
    const v = spread();
    for (const id of ['h1', 'h2']) v.upsert(host(id, 8, 3));
    const first = v.decide(vm('a', 2), { excludedHosts: [], alternates: 1 });
    if (first.kind !== 'placed') throw new Error('a fits');
    v.reserve(first.chosen.claim);
    const second = v.decide(vm('b', 2), { excludedHosts: [], alternates: 1 });
    if (second.kind !== 'placed') throw new Error('b fits');
    expect(second.chosen.hostId).not.toBe(first.chosen.hostId);
    // Reserved or not, a candidate names the generation inventory has (3), never one it has not seen.
    v.reserve(second.chosen.claim);
    const third = v.decide(vm('c', 2), { excludedHosts: [], alternates: 1 });
    if (third.kind !== 'placed') throw new Error('c fits');
    expect([third.chosen.generation, ...third.alternates.map((c) => c.generation)]).toEqual([3, 3]);
    expect(v.get(first.chosen.hostId)?.generation).toBe(3);
    expect(v.inFlight).toBe(2);
  });

  it('a refused claim frees its host again; a taken one stays counted until the snapshot reaches its generation', () => {
    const v = spread();
    v.upsert(host('h1', 8, 1));
    v.upsert(host('h2', 8, 1));
    const d = v.decide(vm('a', 4), { excludedHosts: [], alternates: 1 });
    if (d.kind !== 'placed') throw new Error('a fits');
    const other = d.chosen.hostId === 'h1' ? 'h2' : 'h1';
    v.reserve(d.chosen.claim);
    v.settle(d.chosen.claim, undefined);
    expect(v.inFlight).toBe(0);
    const again = v.decide(vm('b', 4), { excludedHosts: [], alternates: 1 });
    expect(again.kind === 'placed' && again.chosen.hostId).toBe(d.chosen.hostId);

    v.reserve(d.chosen.claim);
    v.settle(d.chosen.claim, 2);
    // An unrelated snapshot below the generation inventory answered: still counted.
    v.upsert(host(d.chosen.hostId, 8, 1));
    const b = v.decide(vm('b', 4), { excludedHosts: [], alternates: 1 });
    expect(b.kind === 'placed' && b.chosen.hostId).toBe(other);
    // The snapshot with the claim: counted once, from the snapshot.
    v.upsert(applyClaim(host(d.chosen.hostId, 8, 1), d.chosen.claim));
    expect(v.inFlight).toBe(0);
    expect(v.get(d.chosen.hostId)?.claims.map((c) => c.vmId)).toEqual(['a']);
  });

  it('a taken reservation ends once the host reaches the generation inventory answered: by a snapshot, or by a claim remembered on top', () => {
    const y = claimOf('y', 'h1', 1);
    const z = claimOf('z', 'h1', 1);
    const v1 = host('h1', 8, 1, [y, z]);
    const v2 = releaseClaim(v1, 'y');
    const v3 = releaseClaim(v2, 'z');
    const b = claimOf('b', 'h1', 2);
    const v4 = applyClaim(v3, b);
    const taken = (v: InFlightView) => v.get('h1')!.generation;
    const bOnly = () => {
      const v = spread();
      v.upsert(v1);
      v.reserve(b);
      v.upsert(v2);
      // Taken at 4 while the view holds 2: not remembered (claims it does not know went first), still counted.
      v.settle(b, v4.generation);
      v.upsert(v3);
      expect(taken(v)).toBe(3);
      expect(v.inFlight).toBe(1);
      return v;
    };

    // A snapshot at that generation: ended, whether it holds the claim or (released again since) not.
    const released = bOnly();
    released.upsert(releaseClaim(v4, 'b'));
    expect(released.inFlight).toBe(0);
    expect(released.decide(vm('probe', 8), { excludedHosts: [], alternates: 0 }).kind).toBe('placed');

    // A claim of this replica taken on top of generation 3 and remembered: the view's host is at 4, the reservation ends.
    const remembered = bOnly();
    const x = claimOf('x', 'h1', 1);
    remembered.reserve(x);
    remembered.applyClaim(x);
    remembered.settle(x, v4.generation + 1);
    expect(taken(remembered)).toBe(4);
    expect(remembered.inFlight).toBe(0);
    // 7 of 8 CPUs free: b no longer counts (the bucket's next snapshot brings it in, if inventory still holds it).
    expect(remembered.decide(vm('probe', 7), { excludedHosts: [], alternates: 0 }).kind).toBe('placed');
  });

  it('placements decided side by side spread over empty hosts (spread policy)', async () => {
    const v = spread();
    const hosts = ['h1', 'h2', 'h3', 'h4'];
    for (const id of hosts) v.upsert(host(id, 64, 1));
    // Inventory answers once every claim is on the wire, as a batch does; it takes each that fits.
    const pending: { req: ClaimRequest; answer: (o: ClaimOutcome) => void }[] = [];
    const generations = new Map(hosts.map((h) => [h, 1]));
    const inventory: InventoryPort = {
      claim: (req) => new Promise((answer) => pending.push({ req, answer })),
      reportPlacementFailed: async () => 'recorded',
    };
    const deps: PlaceVmDeps = {
      engine: v,
      view: v,
      reservations: v,
      source: new FakeSource(new Map()),
      inventory,
      decisions: new DecisionLog(100),
      maxAttempts: 5,
      alternates: 3,
      hostSubsetSize: 1,
      random: () => 0,
      now: () => new Date(0),
    };
    const placed = Array.from({ length: 32 }, (_, i) =>
      placeVm(deps, { requestId: `r${i}`, vm: vm(`vm${i}`, 1), excludedHosts: [] }, true),
    );
    while (pending.length < 32) await new Promise((r) => setTimeout(r, 0));
    for (const { req, answer } of pending.splice(0)) {
      const g = generations.get(req.hostId)! + 1;
      generations.set(req.hostId, g);
      answer({ kind: 'claimed', generation: g });
    }
    const outcomes = await Promise.all(placed);
    const perHost = hosts.map((h) => outcomes.filter((o) => o.kind === 'placed' && o.hostId === h).length);
    expect(perHost.reduce((a, b) => a + b, 0)).toBe(32);
    expect(Math.max(...perHost) - Math.min(...perHost)).toBeLessThanOrEqual(1);
  });
});

/** What the engine must hold of a host: the published snapshot plus the reservations it does not hold, rebuilt. */
function rebuilt(published: HostSnapshot, reserved: readonly Claim[]): HostSnapshot {
  return { ...published, claims: [...published.claims, ...reserved] };
}

type Step =
  | { readonly kind: 'send'; readonly host: number; readonly vcpus: number }
  /** Inventory takes or refuses a claim on the wire (its host's snapshot may reach the bucket before the answer). */
  | { readonly kind: 'decide'; readonly nth: number; readonly taken: boolean }
  | { readonly kind: 'answer'; readonly nth: number }
  | { readonly kind: 'publish'; readonly host: number; readonly behind: number }
  | { readonly kind: 'release'; readonly host: number; readonly nth: number }
  /** A claim taken by inventory and applied to the view without a reservation (a SnapshotView's applyClaim). */
  | { readonly kind: 'own'; readonly host: number; readonly vcpus: number };

const arbStep: fc.Arbitrary<Step> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('send' as const), host: fc.nat(1), vcpus: fc.integer({ min: 1, max: 3 }) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('decide' as const), nth: fc.nat(), taken: fc.boolean() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('answer' as const), nth: fc.nat() }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('publish' as const), host: fc.nat(1), behind: fc.nat(2) }), weight: 2 },
  { arbitrary: fc.record({ kind: fc.constant('release' as const), host: fc.nat(1), nth: fc.nat() }), weight: 1 },
  { arbitrary: fc.record({ kind: fc.constant('own' as const), host: fc.nat(1), vcpus: fc.integer({ min: 1, max: 3 }) }), weight: 1 },
);

interface OnTheWire {
  readonly claim: Claim;
  /** The generation the view held when the claim was decided (the candidate's). */
  readonly scoredAt: number;
  /** Inventory's answer once it decided: the host's generation after taking it, or null (refused). */
  answer?: number | null;
}

describe('InFlightView (properties)', () => {
  it('the engine follows claims one by one and holds what a rebuild of each host would (published snapshot plus reservations)', () => {
    fc.assert(
      fc.property(fc.array(arbStep, { minLength: 1, maxLength: 80 }), (steps) => {
        const scoring = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
        const v = new InFlightView(scoring);
        const ids = ['h1', 'h2'];
        // Inventory's hosts, every generation kept (the bucket may deliver an older one late).
        const truth = new Map(ids.map((id) => [id, [host(id, 64, 1)]]));
        const latest = (id: string) => truth.get(id)!.at(-1)!;
        for (const id of ids) v.upsert(structuredClone(latest(id)));
        // The model: the reservations still counted, with the generation inventory answered.
        const model = new Map<string, { claim: Claim; takenAt?: number }>();
        const wire: OnTheWire[] = [];
        let serial = 0;
        for (const step of steps) {
          if (step.kind === 'send') {
            const claim = claimOf(`vm-${serial++}`, ids[step.host]!, step.vcpus);
            wire.push({ claim, scoredAt: v.get(claim.hostId)!.generation });
            v.reserve(claim);
            model.set(claim.vmId, { claim });
          } else if (step.kind === 'decide') {
            const open = wire.filter((w) => w.answer === undefined);
            if (open.length === 0) continue;
            const w = open[step.nth % open.length]!;
            if (!step.taken) w.answer = null;
            else {
              const next = applyClaim(latest(w.claim.hostId), w.claim);
              truth.get(w.claim.hostId)!.push(next);
              w.answer = next.generation;
            }
          } else if (step.kind === 'answer') {
            const decided = wire.filter((w) => w.answer !== undefined);
            if (decided.length === 0) continue;
            const w = decided[step.nth % decided.length]!;
            wire.splice(wire.indexOf(w), 1);
            const { claim, answer } = w;
            if (answer === null || answer === undefined) {
              v.settle(claim, undefined);
              model.delete(claim.vmId);
              continue;
            }
            // place-vm's rememberClaim, then settle.
            const current = v.get(claim.hostId)!;
            if (
              answer > current.generation &&
              (current.generation === w.scoredAt || current.generation === answer - 1) &&
              !current.claims.some((c) => c.vmId === claim.vmId)
            ) {
              v.applyClaim(claim);
              model.delete(claim.vmId);
            } else if (model.has(claim.vmId)) model.get(claim.vmId)!.takenAt = answer;
            v.settle(claim, answer);
          } else if (step.kind === 'publish') {
            const versions = truth.get(ids[step.host]!)!;
            v.upsert(structuredClone(versions[Math.max(0, versions.length - 1 - step.behind)]!));
          } else if (step.kind === 'own') {
            const claim = claimOf(`vm-${serial++}`, ids[step.host]!, step.vcpus);
            truth.get(claim.hostId)!.push(applyClaim(latest(claim.hostId), claim));
            v.applyClaim(claim);
          } else if (step.kind === 'release') {
            const id = ids[step.host]!;
            const h = latest(id);
            if (h.claims.length > 0) truth.get(id)!.push(releaseClaim(h, h.claims[step.nth % h.claims.length]!.vmId));
          }
          // Reservations end once the view's snapshot holds their VM or reached the generation inventory answered.
          for (const [vmId, r] of model) {
            const published = v.get(r.claim.hostId)!;
            if (published.claims.some((c) => c.vmId === vmId) || (r.takenAt !== undefined && published.generation >= r.takenAt))
              model.delete(vmId);
          }
        }
        expect(v.inFlight).toBe(model.size);
        const reference = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
        for (const id of ids) {
          const reserved = [...model.values()].filter((r) => r.claim.hostId === id).map((r) => r.claim);
          const expected = rebuilt(v.get(id)!, reserved);
          const held = scoring.get(id)!;
          expect(held.claims.map((c) => c.vmId).sort()).toEqual(expected.claims.map((c) => c.vmId).sort());
          reference.upsert(expected);
        }
        // Same usage, same classes: the same decision, and the candidates at the generations inventory published.
        const probe = v.decide(vm('probe', 2), { excludedHosts: [], alternates: 2 });
        const fresh = reference.decide(vm('probe', 2), { excludedHosts: [], alternates: 2 });
        const shape = (d: typeof probe) =>
          d.kind === 'placed' ? [d.chosen, ...d.alternates].map((c) => [c.hostId, c.score, c.claim]) : d.summary;
        expect(shape(probe)).toEqual(shape(fresh));
        if (probe.kind === 'placed')
          for (const c of [probe.chosen, ...probe.alternates]) expect(c.generation).toBe(v.get(c.hostId)!.generation);
      }),
      { numRuns: 500 },
    );
  });
});
