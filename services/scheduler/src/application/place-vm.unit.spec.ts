import { describe, expect, it } from 'vitest';
import { claimCommandId } from './command-id.ts';
import { DecisionLog } from './decision-log.ts';
import { placeVm, type PlaceVmDeps, type PlacementRequest } from './place-vm.ts';
import type { ClaimOutcome } from './ports.ts';
import { FakeEngine, FakeInventory, FakeSource, MapView, claimOf, host, vm } from '../testing/fake-ports.ts';
import { ViewPosition } from './view-position.ts';

function setup(
  hosts: ReturnType<typeof host>[],
  answers: Record<string, ClaimOutcome[]> = {},
  fresh = new Map<string, ReturnType<typeof host>>(),
) {
  const view = new MapView();
  for (const h of hosts) view.upsert(h);
  const inventory = new FakeInventory(answers);
  const decisions = new DecisionLog(100);
  const deps: PlaceVmDeps = {
    engine: new FakeEngine(view),
    view,
    source: new FakeSource(fresh),
    inventory,
    decisions,
    maxAttempts: 5,
    alternates: 3,
    hostSubsetSize: 1,
    random: () => 0,
    now: () => new Date('2026-01-01T00:00:00Z'),
  };
  return { deps, view, inventory, decisions };
}

const request = (vcpus = 2, excludedHosts: string[] = []): PlacementRequest => ({
  requestId: 'evt-1',
  vm: vm('vm-1', vcpus),
  excludedHosts,
});
const moved: ClaimOutcome = { kind: 'generation-moved', detail: 'generation 1 is now 2' };

describe('placeVm', () => {
  it('claims the best host with the generation it scored and records the decision', async () => {
    const { deps, inventory, decisions } = setup([host('h1', 8), host('h2', 4, 7)]);
    const out = await placeVm(deps, request(), true);
    expect(out).toEqual({ kind: 'placed', hostId: 'h2', attempts: 1 });
    expect(inventory.claims).toHaveLength(1);
    expect(inventory.claims[0]).toMatchObject({
      vmId: 'vm-1',
      hostId: 'h2',
      expectedGeneration: 7,
      alternates: [{ hostId: 'h1', generation: 1 }],
    });
    expect(inventory.claims[0]!.commandId).toBe(claimCommandId('evt-1', 1));
    const recorded = decisions.get('vm-1');
    expect(recorded?.outcome).toBe('placed');
    expect(JSON.parse(recorded!.explanation)).toMatchObject({ chosen: { hostId: 'h2' }, runnersUp: [{ hostId: 'h1' }] });
  });

  it('after a rejection refreshes the host and takes the next alternate still current', async () => {
    const busy = host('h2', 4, 8, [claimOf('other', 'h2', 4)]);
    const { deps, inventory, view } = setup([host('h1', 8), host('h2', 4, 7)], { h2: [moved] }, new Map([['h2', busy]]));
    const out = await placeVm(deps, request(), true);
    expect(out).toEqual({ kind: 'placed', hostId: 'h1', attempts: 2 });
    expect(inventory.claims.map((c) => c.hostId)).toEqual(['h2', 'h1']);
    expect(view.get('h2')?.generation).toBe(8);
    expect(new Set(inventory.claims.map((c) => c.commandId)).size).toBe(2);
  });

  it('decides afresh when the alternates were computed from generations that have moved', async () => {
    // The refresh of h2 reveals it is full; meanwhile the view learnt that h1 moved too.
    const { deps, inventory, view } = setup([host('h1', 8), host('h2', 4, 7), host('h3', 16)], {
      h2: [{ kind: 'no-longer-fits', detail: 'vcpus' }],
    });
    const fresh = host('h2', 4, 8, [claimOf('x', 'h2', 4)]);
    deps.source.get = async (id) => {
      view.upsert(host('h1', 8, 2, [claimOf('y', 'h1', 7)]));
      return id === 'h2' ? fresh : undefined;
    };
    const out = await placeVm(deps, request(), true);
    expect(out).toEqual({ kind: 'placed', hostId: 'h3', attempts: 2 });
    expect(inventory.claims.map((c) => `${c.hostId}@${c.expectedGeneration}`)).toEqual(['h2@7', 'h3@1']);
  });

  it('reports the explanation to inventory when the VM fits nowhere', async () => {
    const { deps, inventory, decisions } = setup([host('h1', 1), host('h2', 1)]);
    const out = await placeVm(deps, request(2), false);
    expect(out).toEqual({ kind: 'failed', summary: '0/2 hosts can take vm-1', attempts: 0 });
    expect(inventory.claims).toHaveLength(0);
    expect(inventory.failures).toHaveLength(1);
    expect(inventory.failures[0]!.reason).toBe('0/2 hosts can take vm-1');
    expect(JSON.parse(inventory.failures[0]!.explanation)).toEqual({ summary: '0/2 hosts can take vm-1', filters: { vcpus: 2 } });
    expect(decisions.get('vm-1')?.outcome).toBe('failed');
  });

  it('honours the hosts inventory excluded', async () => {
    const { deps, inventory } = setup([host('h1', 8), host('h2', 4)]);
    await placeVm(deps, request(2, ['h2']), true);
    expect(inventory.claims.map((c) => c.hostId)).toEqual(['h1']);
  });

  it('stops after maxAttempts refused claims: redeliver when not final, report when final', async () => {
    const always = (): ClaimOutcome[] => Array.from({ length: 20 }, () => moved);
    const hosts = [host('h1', 8), host('h2', 8), host('h3', 8)];
    // Every refresh shows the host one generation further (others keep claiming, it still fits).
    const advancing = () => {
      const gen = new Map<string, number>();
      return async (id: string) => {
        gen.set(id, (gen.get(id) ?? 1) + 1);
        return host(id, 8, gen.get(id));
      };
    };
    const a = setup(hosts, { h1: always(), h2: always(), h3: always() });
    a.deps.source.get = advancing();
    expect(await placeVm(a.deps, request(), false)).toEqual({ kind: 'contended', attempts: 5 });
    expect(a.inventory.claims).toHaveLength(5);
    expect(a.inventory.failures).toHaveLength(0);

    const b = setup(hosts, { h1: always(), h2: always(), h3: always() });
    b.deps.source.get = advancing();
    const out = await placeVm(b.deps, request(), true);
    expect(out.kind).toBe('failed');
    expect(b.inventory.claims).toHaveLength(5);
    expect(JSON.parse(b.inventory.failures[0]!.explanation)).toMatchObject({ reason: 'contention' });
  });

  it('does not claim again on a refused host while the view still shows the refused generation', async () => {
    const hosts = [host('h1', 8), host('h2', 8)];
    // The bucket lags: a refresh returns the very snapshot that was refused.
    const { deps, inventory } = setup(hosts, { h1: [moved, moved], h2: [moved, moved] }, new Map(hosts.map((h) => [h.capacity.hostId, h])));
    expect(await placeVm(deps, request(), false)).toEqual({ kind: 'contended', attempts: 2 });
    expect(inventory.claims.map((c) => c.hostId).sort()).toEqual(['h1', 'h2']);
    expect(inventory.failures).toHaveLength(0);
  });

  it('a redelivered request sends the same command ids, so inventory can answer as the first time', async () => {
    const first = setup([host('h1', 8)]);
    const second = setup([host('h1', 8)]);
    await placeVm(first.deps, request(), true);
    await placeVm(second.deps, request(), true);
    expect(second.inventory.claims[0]!.commandId).toBe(first.inventory.claims[0]!.commandId);
  });

  it('stops when inventory says the VM no longer waits for a placement', async () => {
    const { deps, inventory } = setup([host('h1', 8), host('h2', 8)], { h1: [{ kind: 'vm-not-pending', detail: 'vm-1 is placed' }] });
    expect(await placeVm(deps, request(), true)).toEqual({ kind: 'not-pending', detail: 'vm-1 is placed' });
    expect(inventory.claims).toHaveLength(1);
  });

  it('with a host subset, starts at a random one of the best N and keeps the others as alternates', async () => {
    const { deps, inventory } = setup([host('h1', 8), host('h2', 4), host('h3', 16), host('h4', 32)], { h1: [moved] });
    const draws = [0.7, 0];
    const out = await placeVm({ ...deps, hostSubsetSize: 2, random: () => draws.shift() ?? 0 }, request(), true);
    // Ranked h2, h1, h3, h4: 0.7 of a subset of 2 picks h1; after its rejection (draw 0) h2.
    expect(inventory.claims.map((c) => c.hostId)).toEqual(['h1', 'h2']);
    expect(out).toEqual({ kind: 'placed', hostId: 'h2', attempts: 2 });
    // Each claim's explanation names the host it went to; the one away from the best names the best too.
    const [toH1, toH2] = inventory.claims.map((c) => JSON.parse(c.explanation) as { summary: string; chosen: { hostId: string } });
    expect(toH1).toMatchObject({
      chosen: { hostId: 'h1' },
      summary: expect.stringMatching(/^vm-1 goes to h1 \(score [\d.]+; best-scored h2, [\d.]+; 3 runners-up\)$/),
    });
    expect(toH2).toMatchObject({ chosen: { hostId: 'h2' }, summary: 'placed vm-1 on h2' });
  });

  it('after a refusal picks the next host at random among the next three, so losers of one race scatter', async () => {
    const hosts = [host('h1', 3), host('h2', 4), host('h3', 5), host('h4', 6), host('h5', 7)];
    const { deps, inventory } = setup(hosts, { h1: [moved] }, new Map(hosts.map((h) => [h.capacity.hostId, h])));
    const out = await placeVm({ ...deps, alternates: 4, random: () => 0.99 }, request(), true);
    // Ranked h1..h5: h1 is always tried first; then one of h2, h3, h4 (0.99 -> the third).
    expect(inventory.claims.map((c) => c.hostId)).toEqual(['h1', 'h4']);
    expect(out).toEqual({ kind: 'placed', hostId: 'h4', attempts: 2 });
  });

  it('applies its own successful claim to the view at the next generation', async () => {
    const { deps, view } = setup([host('h1', 8, 4)]);
    await placeVm(deps, request(3), true);
    expect(view.get('h1')).toMatchObject({ generation: 5, claims: [{ vmId: 'vm-1', vcpus: 3 }] });
  });

  it('applies its claim on top of a later generation of the view when inventory took it right on that one', async () => {
    // Two placements of this replica scored h1 at generation 4; the other one's claim went first and
    // was remembered (generation 5). Ours was taken on top of it: generation 6 is the view plus ours.
    const { deps, view, inventory } = setup([host('h1', 8, 4)], { h1: [{ kind: 'claimed', generation: 6 }] });
    const claim = inventory.claim.bind(inventory);
    inventory.claim = async (req) => {
      view.upsert(host('h1', 8, 5, [claimOf('other', 'h1', 2)]));
      return claim(req);
    };
    await placeVm(deps, request(3), true);
    expect(view.get('h1')).toMatchObject({ generation: 6, claims: [{ vmId: 'other' }, { vmId: 'vm-1', vcpus: 3 }] });
  });

  it('leaves the view alone when claims it does not know of went first', async () => {
    // Inventory answers generation 7 while the view holds 5: generation 6 is someone else's, unknown here.
    const { deps, view, inventory } = setup([host('h1', 8, 4)], { h1: [{ kind: 'claimed', generation: 7 }] });
    const claim = inventory.claim.bind(inventory);
    inventory.claim = async (req) => {
      view.upsert(host('h1', 8, 5, [claimOf('other', 'h1', 2)]));
      return claim(req);
    };
    await placeVm(deps, request(3), true);
    expect(view.get('h1')).toMatchObject({ generation: 5, claims: [{ vmId: 'other' }] });
  });

  it('drops a host from the view when its refresh finds it gone', async () => {
    const { deps, view } = setup([host('h1', 8), host('h2', 4)], { h2: [moved] });
    await placeVm(deps, request(), true);
    expect(view.get('h2')).toBeUndefined();
  });
});

describe('placeVm never fails on a view older than the request (issue 11)', () => {
  const at = (position: string) => ({ transactionId: '500', position });
  const requestAt = (position: string): PlacementRequest => ({ ...request(4), logPosition: at(position) });

  it('waits for the view to reach the request, then places on the host the view had not seen yet', async () => {
    const { deps, view, inventory } = setup([host('h1', 2)]);
    const viewPosition = new ViewPosition();
    viewPosition.advance(at('10'));
    const placing = placeVm({ ...deps, viewPosition, viewWaitMillis: 60_000 }, requestAt('12'), true);
    await new Promise((r) => setTimeout(r, 5));
    // The host registered just before the request reaches the view, then its position.
    view.upsert(host('h2', 8));
    viewPosition.advance(at('12'));
    expect(await placing).toEqual({ kind: 'placed', hostId: 'h2', attempts: 1 });
    expect(inventory.failures).toEqual([]);
  });

  it('on a view that stays behind it redelivers instead of failing; on the last delivery it says so', async () => {
    const { deps, inventory } = setup([host('h1', 2)]);
    const viewPosition = new ViewPosition();
    viewPosition.advance(at('10'));
    expect(await placeVm({ ...deps, viewPosition, viewWaitMillis: 1 }, requestAt('12'), false)).toEqual({
      kind: 'view-behind',
      attempts: 0,
    });
    expect(inventory.failures).toEqual([]);
    const last = await placeVm({ ...deps, viewPosition, viewWaitMillis: 1 }, requestAt('12'), true);
    expect(last.kind).toBe('failed');
    expect(inventory.failures[0]?.reason).toMatch(/view still behind the request/);
  });

  it('reports a failure on a view that has reached the request, with the view position', async () => {
    const { deps, inventory } = setup([host('h1', 2)]);
    const viewPosition = new ViewPosition();
    viewPosition.advance(at('15'));
    expect((await placeVm({ ...deps, viewPosition }, requestAt('12'), false)).kind).toBe('failed');
    expect(inventory.failures[0]?.viewPosition).toEqual(at('15'));
  });
});
