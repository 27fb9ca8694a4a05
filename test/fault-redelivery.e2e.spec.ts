/**
 * Clock and ordering (issue 16): events JetStream delivers again, late, out of order and twice change
 * nothing beyond what one delivery changes. Inventory and two scheduler replicas run as processes
 * (their durable tuned to a 2 s ack wait, 3 deliveries, 200/500 ms backoff, 3 s pulls), the executor, migration
 * and telemetry as composition roots on the simulator, on real Postgres and NATS:
 * (a) a scheduler replica frozen (SIGSTOP) past the ack wait with a VmRequested in hand (stopped in its
 *     claim by a proxy in front of inventory, then frozen) and whatever else it pulled: redelivered to
 *     the other replica, which places the VMs; the frozen one, resumed, ends its stale copies (a claim
 *     repeated under its command id is answered as the first, appending nothing): one
 *     VmRequested, one claim, one VmPlaced, one provisioning and one domain per VM;
 * (b) every event of the inventory, executor and migration streams published again under its own
 *     message id once the duplicate window has passed (stored again: a true duplicate), newest first,
 *     each followed at once by a second copy JetStream drops: every durable consumes the copies and
 *     no log, read model or domain changes;
 * (c) a VM whose claims inventory refuses (UNAVAILABLE, at a proxy): the scheduler's handler fails
 *     at each of its 3 deliveries, the VmRequested ends in berth.dlq.scheduler-vm-requested with its
 *     reason, inventory fails the VM naming the dead letter (adapters/nats/dead-requests.ts), and the
 *     consumer goes on placing the next VM.
 * Each case prints its audit as a JSON line.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { inventoryV1 as pb, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { connectTestNats, eventually, infraAvailable } from '@berth/testing';
import { byStream, readEventLog, type LoggedEvent } from './harness/event-log.ts';
import { faultAudit, lossFigures, type FaultAudit } from './harness/fault-audit.ts';
import { startHoldProxy, type HoldProxy } from './harness/grpc-hold-proxy.ts';
import { allDrained, deadLetters, republishSameId, setDuplicateWindow, streamMessages } from './harness/jetstream-audit.ts';
import { startSimPlane, type SimPlane } from './harness/sim-plane.ts';
import { GiB } from './harness/sim-services.ts';

const HOSTS = ['h1', 'h2'];
const DURABLE = 'scheduler-vm-requested';
const MAX_DELIVER = 3;
// Pull requests of 3 s: a frozen replica's outstanding one ends on the server within 3 s, so what it held goes
// to the other replica at a redelivery (before, the server hands redeliveries back to the frozen one's request).
const TUNING = JSON.stringify({ [DURABLE]: { ackWait: '2s', maxDeliver: MAX_DELIVER, backoff: ['200ms', '500ms'], expires: '3s' } });
const EVENT_STREAMS = ['BERTH_INVENTORY', 'BERTH_EXECUTOR', 'BERTH_MIGRATION'] as const;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('events redelivered, late, out of order and twice', () => {
  let plane: SimPlane;
  /** In front of inventory, one per scheduler replica. */
  const proxies: HoldProxy[] = [];
  let nc: NatsConnection;
  const acknowledged: string[] = [];
  const stream = (s: string) => `${plane.prefix.toUpperCase()}_${s}`;

  beforeAll(async () => {
    plane = await startSimPlane('redeliver', HOSTS, {
      schedulers: 2,
      schedulerEnv: { NATS_CONSUMER_TUNING: TUNING, LOG_LEVEL: 'debug', SCHEDULER_POLICY: 'spread' },
      schedulerInventoryAddr: async (inventory) => {
        const proxy = await startHoldProxy(pb.InventoryServiceService, inventory, 'scheduler', 'inventory');
        proxies.push(proxy);
        return proxy.address;
      },
    });
    nc = await connectTestNats();
  });
  afterAll(async () => {
    for (const s of plane?.schedulers ?? []) if (s.pid > 0) process.kill(s.pid, 'SIGCONT');
    await nc?.close();
    await plane?.stop();
    for (const p of proxies) await p.close();
  });

  const composeOnly = async (vmId: string): Promise<void> => {
    await callUnary(plane.inventory, 'composeVm', {
      meta: { commandId: `compose-${vmId}` },
      vmId,
      spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 1, memoryBytes: GiB }),
    });
    acknowledged.push(vmId);
  };
  const vmsOf = async (ids: readonly string[]) =>
    (await callUnary(plane.inventory, 'listVms', { hostId: '', status: pb.VmStatus.VM_STATUS_UNSPECIFIED })).vms.filter((v) =>
      ids.includes(v.vmId),
    );
  /** vmId -> hosts whose simulator runs its domain. */
  const domains = async (): Promise<Map<string, string[]>> => {
    const on = new Map<string, string[]>();
    for (const h of HOSTS)
      for (const d of await plane.fleet.driver(`sim://${h}`).listDomains())
        if (d.vmId !== undefined && d.state === 'running') on.set(d.vmId, [...(on.get(d.vmId) ?? []), h]);
    return on;
  };
  const audit = async (rounds: number, ids: readonly string[]): Promise<FaultAudit> =>
    faultAudit({ inventoryDbUrl: plane.dbs.inventory.url, inventory: plane.inventory, acknowledged: ids, rounds, domains });
  /** Events of `type` about the VM: on its stream, or naming it (a claim on a host's stream). */
  const count = (log: readonly LoggedEvent[], type: string, vmId: string) =>
    log.filter(
      (e) =>
        e.type === type &&
        (e.streamId === `vm-${vmId}` || e.data['vmId'] === vmId || (e.data['claim'] as { vmId?: string } | undefined)?.vmId === vmId),
    ).length;
  /** The scheduler's debug line for each delivery it ended with a placement outcome. */
  const deliveries = (i: number, ids: readonly string[], since = 0) =>
    plane.schedulers[i]!.jsonLogs().filter(
      (l) =>
        typeof l['vmId'] === 'string' &&
        ids.includes(l['vmId']) &&
        typeof l['delivery'] === 'number' &&
        typeof l['kind'] === 'string' &&
        Date.parse(String(l['time'])) >= since,
    ) as { vmId: string; delivery: number; kind: string; hostId?: string }[];

  it('(a) a replica frozen past the ack wait with a message in hand: it goes to the other one; each VM is placed and created once', async () => {
    const [frozen] = plane.schedulers;
    // Stopped in its first claim (before inventory sees it), the replica holds that VmRequested; then frozen.
    let holding = false;
    const reached = proxies[0]!.arm({ method: 'claimResourcesBatch', when: 'before', matches: () => true }).then(() => (holding = true));
    const ids: string[] = [];
    for (let i = 1; i <= 16 && !holding; i++) {
      ids.push(`ra-${i}`);
      await composeOnly(`ra-${i}`);
      await Promise.race([reached, sleep(300)]);
    }
    expect(holding, 'a VmRequested reached the first replica').toBe(true);
    const started = Date.now();
    process.kill(frozen!.pid, 'SIGSTOP');
    let frozenMillis = 0;
    try {
      // More while it is frozen: what its open pull request still takes sits there unacknowledged too.
      for (let i = ids.length + 1, n = ids.length + 3; i <= n; i++) {
        ids.push(`ra-${i}`);
        await composeOnly(`ra-${i}`);
      }
      // All running while that replica is still stopped: what it held was redelivered to the other.
      await eventually(
        async () => (await vmsOf(ids)).filter((v) => v.status === pb.VmStatus.VM_STATUS_RUNNING).length === ids.length,
        'every VM running while a replica is frozen',
        60_000,
        250,
      );
    } finally {
      frozenMillis = Date.now() - started;
      // Its held claim fails (as a call cut by the network) once it runs again.
      proxies[0]!.releaseAll();
      process.kill(frozen!.pid, 'SIGCONT');
    }
    await allDrained(nc, plane.prefix);
    const redelivered = deliveries(1, ids).filter((d) => d.delivery > 1);
    // The resumed replica ends its stale copies (`not-pending`, or `placed` when its claim's command id was answered again).
    await sleep(1000);
    // What it logged from the freeze on: its stale copies, and a placement it had claimed just before it.
    const stale = deliveries(0, ids, started);
    // Hosts each VM was reported placed on by the replicas' logs: a claim repeated under its command id (same request,
    // same attempt) is answered as the first, on whatever host the repeat named; inventory's log above is the truth.
    const placedOn = new Map<string, Set<string>>();
    for (const d of [...deliveries(0, ids), ...deliveries(1, ids)])
      if (d.kind === 'placed') placedOn.set(d.vmId, (placedOn.get(d.vmId) ?? new Set()).add(d.hostId ?? ''));
    const log = await readEventLog(plane.dbs.inventory.url);
    const executorLog = await readEventLog(plane.dbs.executor.url);
    const on = await domains();
    for (const id of ids) {
      expect(
        {
          requested: count(log, 'VmRequested', id),
          claimed: count(log, 'ResourcesClaimed', id),
          placed: count(log, 'VmPlaced', id),
          provisioned: count(executorLog, 'DomainProvisioningStarted', id),
          started: count(executorLog, 'VmStarted', id),
          domains: on.get(id)?.length ?? 0,
        },
        id,
      ).toEqual({ requested: 1, claimed: 1, placed: 1, provisioned: 1, started: 1, domains: 1 });
    }
    const report = await audit(1, ids);
    console.log(
      JSON.stringify({
        test: 'fault-redelivery',
        case: 'frozen-replica',
        ...report,
        frozenMillis,
        redeliveredToOtherReplica: redelivered.length,
        staleCopiesEndedByFrozenReplica: stale.map((d) => `${d.vmId}#${d.delivery}:${d.kind}`),
        reportedPlacedOnTwoHosts: [...placedOn.values()].filter((h) => h.size > 1).length,
      }),
    );
    expect(redelivered.length, 'messages the frozen replica held, redelivered to the other').toBeGreaterThan(0);
    expect(report.problems).toEqual([]);
    expect(lossFigures(report)).toEqual({ lost: 0, duplicated: 0, overcommitted: 0, leakedClaims: 0, duplicateDomains: 0 });
    expect(report.completed).toBe(ids.length);
  });

  it('(b) every event published again under its own id after the dedupe window, newest first: nothing changes', async () => {
    await allDrained(nc, plane.prefix);
    const state = async () => ({
      logs: Object.fromEntries(
        await Promise.all(
          (['inventory', 'executor', 'migration'] as const).map(async (s) => [s, (await readEventLog(plane.dbs[s].url)).length] as const),
        ),
      ),
      vms: (await vmsOf(acknowledged)).map((v) => ({ vmId: v.vmId, status: v.status, hostId: v.hostId, reason: v.failureReason })),
      hosts: await Promise.all(
        HOSTS.map(async (hostId) => {
          const host = (await callUnary(plane.inventory, 'getHost', { hostId })).host!;
          return { hostId, generation: host.generation, claims: host.claims.map((c) => c.vmId).sort() };
        }),
      ),
      domains: Object.fromEntries([...(await domains())].sort()),
      deadLetters: (await deadLetters(nc, plane.prefix)).length,
    });
    const before = await state();
    for (const s of EVENT_STREAMS) await setDuplicateWindow(nc, stream(s), 1000);
    await sleep(1500);
    const all = [];
    for (const s of EVENT_STREAMS) all.push(...(await streamMessages(nc, stream(s))));
    // Newest first: each event arrives again after the ones that followed it.
    all.sort((x, y) => y.time.getTime() - x.time.getTime() || y.seq - x.seq);
    let stored = 0;
    let dropped = 0;
    for (const m of all) {
      if (!(await republishSameId(nc, m)).duplicate) stored++;
      // At once again: inside the window JetStream drops it.
      if ((await republishSameId(nc, m)).duplicate) dropped++;
    }
    await allDrained(nc, plane.prefix);
    await sleep(2000); // work a handler kicked off (provisioner, runner) settles
    await allDrained(nc, plane.prefix);
    const after = await state();
    const report = await audit(1, acknowledged);
    const diff = Object.keys(before.logs).map((k) => after.logs[k]! - before.logs[k]!);
    console.log(
      JSON.stringify({
        test: 'fault-redelivery',
        case: 'duplicates-out-of-order',
        ...report,
        republished: all.length,
        storedAgain: stored,
        droppedByJetStream: dropped,
        lost: report.lost + diff.filter((d) => d < 0).reduce((n, d) => n - d, 0),
        duplicated: report.duplicated + diff.filter((d) => d > 0).reduce((n, d) => n + d, 0),
      }),
    );
    expect(all.length).toBeGreaterThanOrEqual(5 * acknowledged.length);
    expect({ stored, dropped }).toEqual({ stored: all.length, dropped: all.length });
    expect(after).toEqual(before);
    expect(lossFigures(report)).toEqual({ lost: 0, duplicated: 0, overcommitted: 0, leakedClaims: 0, duplicateDomains: 0 });
  });

  it('(c) a VmRequested whose handler fails until max_deliver: dead-lettered with its reason, the VM failed naming it, the consumer goes on', async () => {
    const ofDl = (r: Record<string, unknown>) => ((r['claims'] ?? []) as { vmId?: string }[]).some((c) => c.vmId === 'dl-1');
    const deadBefore = (await deadLetters(nc, plane.prefix)).length;
    const refusals = proxies.map((p) => p.refuse({ method: 'claimResourcesBatch', matches: ofDl }));
    const refused = () => refusals.reduce((n, r) => n + r.refused(), 0);
    let vm: pb.Vm | undefined;
    try {
      await composeOnly('dl-1');
      vm = await eventually(
        async () => (await vmsOf(['dl-1'])).find((v) => v.status === pb.VmStatus.VM_STATUS_PLACEMENT_FAILED),
        'dl-1 failed',
        60_000,
        250,
      );
    } finally {
      for (const r of refusals) r.stop();
    }
    // The same consumer places the next VM.
    await composeOnly('after-1');
    await eventually(
      async () => (await vmsOf(['after-1']))[0]?.status === pb.VmStatus.VM_STATUS_RUNNING,
      'after-1 running after the dead letter',
      60_000,
      250,
    );
    await allDrained(nc, plane.prefix);
    const dead = (await deadLetters(nc, plane.prefix)).slice(deadBefore);
    const log = byStream(await readEventLog(plane.dbs.inventory.url));
    const report = await audit(1, ['dl-1', 'after-1']);
    console.log(
      JSON.stringify({
        test: 'fault-redelivery',
        case: 'max-deliver',
        ...report,
        refusedClaims: refused(),
        deadLetters: dead.map((d) => d.reason),
        vmReason: vm?.failureReason,
      }),
    );
    expect(refused(), 'one refused claim per delivery').toBe(MAX_DELIVER);
    expect(dead.map((d) => d.durable)).toEqual([DURABLE]);
    expect(dead[0]!.subject).toMatch(/\.berth\.inventory\.vm\.default\.VmRequested$/);
    expect(dead[0]!.reason).toMatch(new RegExp(`^handler failed ${MAX_DELIVER} times, last error: .*UNAVAILABLE`));
    expect(vm.failureReason).toBe(
      `placement request dead-lettered by ${DURABLE} after ${MAX_DELIVER} deliveries (berth.dlq.${DURABLE}): ${dead[0]!.reason}`,
    );
    expect((log.get('vm-dl-1') ?? []).map((e) => e.type)).toEqual(['VmRequested', 'VmPlacementFailed']);
    // Nothing of the refused VM reached a host.
    expect((await domains()).get('dl-1')).toBeUndefined();
    expect(report.problems).toEqual([]);
    expect({ ...lossFigures(report), completed: report.completed, failed: report.failed }).toEqual({
      lost: 0,
      duplicated: 0,
      overcommitted: 0,
      leakedClaims: 0,
      duplicateDomains: 0,
      completed: 1,
      failed: 1,
    });
  });
});
