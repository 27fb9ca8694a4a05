import { describe, expect, it } from 'vitest';
import { applyClaim } from '@berth/fit';
import { placeVm, type PlaceVmDeps } from '../../application/place-vm.ts';
import { DecisionLog } from '../../application/decision-log.ts';
import type { ClaimOutcome, ClaimRequest, InventoryPort } from '../../application/ports.ts';
import { FakeSource, host, vm } from '../../testing/fake-ports.ts';
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
