/**
 * Network faults between the parts (issue 16), through FaultProxy: inventory reaches Postgres and
 * NATS through a proxy each, the scheduler reaches inventory's gRPC through a third, and this test
 * calls inventory through a fourth. Latency, resets in the middle of requests, a black hole and a
 * partition that heals: deadlines fire, calls fail with DEADLINE_EXCEEDED or UNAVAILABLE (never
 * INTERNAL, never a crash), nothing half-applied remains (one VmRequested per acknowledged command,
 * retried under the same command id), and every part works again once the network heals, without
 * a restart. Prints its audit as JSON.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1 as pb, modelV1 } from '@berth/contracts';
import { callUnary, createClient, isServiceError } from '@berth/grpc-kit';
import {
  createTestDatabase,
  databaseUrl,
  deletePrefixedStreams,
  eventually,
  FaultProxy,
  infraAvailable,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import { readEventLog } from './harness/event-log.ts';
import { startService, stopAll, type ServiceHandle } from './harness/service.ts';
import { mapLimit } from './harness/wait.ts';

const GiB = 1024 ** 3;
type Inventory = InstanceType<typeof pb.InventoryServiceClient>;

const target = (url: string, port: number) => ({ host: new URL(url).hostname || '127.0.0.1', port: Number(new URL(url).port || port) });
const viaProxy = (url: string, proxy: FaultProxy): string => {
  const u = new URL(url);
  u.host = proxy.address;
  return u.toString();
};
const codeOf = (e: unknown): string => (isServiceError(e) ? grpc.status[e.code] : `not a gRPC error: ${String(e)}`);

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('network faults between the parts', () => {
  const prefix = testSubjectPrefix('faultnet');
  let invDb: TestDatabase;
  let exDb: TestDatabase;
  let pgProxy: FaultProxy;
  let natsProxy: FaultProxy;
  let schedToInv: FaultProxy;
  let testToInv: FaultProxy;
  let inventory: ServiceHandle;
  let scheduler: ServiceHandle;
  let executor: ServiceHandle;
  let inv: Inventory;
  let proxied: Inventory;
  const audit = { acknowledged: 0, refused: {} as Record<string, number>, lost: 0, duplicated: 0, restarts: 0 };
  const acknowledged = new Set<string>();

  beforeAll(async () => {
    [invDb, exDb] = await Promise.all([createTestDatabase('faultnet_inv'), createTestDatabase('faultnet_ex')]);
    pgProxy = await FaultProxy.start(target(databaseUrl(), 5432));
    natsProxy = await FaultProxy.start(target(natsUrl(), 4222));
    inventory = await startService(
      'inventory',
      {
        DATABASE_URL: viaProxy(invDb.url, pgProxy),
        NATS_URL: viaProxy(natsUrl(), natsProxy),
        NATS_PREFIX: prefix,
      },
      { readyTimeoutMillis: 240_000 },
    );
    schedToInv = await FaultProxy.start({ host: '127.0.0.1', port: inventory.port });
    testToInv = await FaultProxy.start({ host: '127.0.0.1', port: inventory.port });
    [scheduler, executor] = await Promise.all([
      startService('scheduler', { NATS_PREFIX: prefix, INVENTORY_ADDR: schedToInv.address }, { readyTimeoutMillis: 240_000 }),
      startService(
        'placement-executor',
        { DATABASE_URL: exDb.url, NATS_PREFIX: prefix, EXECUTOR_SAMPLE_INTERVAL: '0ms' },
        { readyTimeoutMillis: 240_000 },
      ),
    ]);
    inv = createClient(pb.InventoryServiceClient, inventory.address, { deadlineMillis: 30_000 });
    proxied = createClient(pb.InventoryServiceClient, testToInv.address, { deadlineMillis: 30_000 });
    await callUnary(inv, 'registerHost', {
      meta: { commandId: 'register-h1' },
      hostId: 'h1',
      spec: modelV1.HostSpec.fromPartial({ name: 'h1', hypervisorUri: 'sim://h1', cpuModel: 'sim', cpus: 256, memoryBytes: 1024 * GiB }),
      state: modelV1.HostState.HOST_STATE_ENABLED,
    });
  });
  afterAll(async () => {
    console.log(JSON.stringify({ test: 'fault-network', ...audit }));
    inv?.close();
    proxied?.close();
    // stopAll also ends a service whose sibling failed to start (its handle was never assigned here).
    await stopAll();
    await Promise.all([pgProxy, natsProxy, schedToInv, testToInv].map((p) => p?.close()));
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all([invDb?.drop(), exDb?.drop()]);
  });

  const compose = (client: Inventory, vmId: string, deadlineMillis = 30_000) =>
    callUnary(
      client,
      'composeVm',
      { meta: { commandId: `compose-${vmId}` }, vmId, spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 1, memoryBytes: GiB }) },
      { deadline: Date.now() + deadlineMillis },
    ).then(() => void acknowledged.add(vmId));
  const refusedWith = async (p: Promise<unknown>): Promise<string> => {
    try {
      await p;
      return 'OK';
    } catch (e) {
      const code = codeOf(e);
      audit.refused[code] = (audit.refused[code] ?? 0) + 1;
      return code;
    }
  };
  const running = (vmIds: readonly string[], what: string, timeoutMillis = 90_000) =>
    eventually(
      async () => {
        const vms = (await callUnary(inv, 'listVms', pb.ListVmsRequest.fromPartial({}))).vms;
        const status = new Map(vms.map((v) => [v.vmId, v.status]));
        return vmIds.every((id) => status.get(id) === pb.VmStatus.VM_STATUS_RUNNING);
      },
      what,
      timeoutMillis,
      250,
    );
  /** Nothing half-applied, nothing twice: one VmRequested per VM in inventory's log. */
  const requestedOnce = async (vmIds: readonly string[]): Promise<void> => {
    const counts = new Map<string, number>();
    // One VmRequested of the first attempt (a re-placement is a VmRequested of the next attempt).
    for (const e of await readEventLog(invDb.url))
      if (e.type === 'VmRequested' && Number(e.data['attempt'] ?? 1) === 1)
        counts.set(String(e.data['vmId']), (counts.get(String(e.data['vmId'])) ?? 0) + 1);
    for (const id of vmIds) {
      const n = counts.get(id) ?? 0;
      if (n === 0) audit.lost++;
      if (n > 1) audit.duplicated++;
      expect(n, `VmRequested of ${id}`).toBe(1);
    }
  };
  const alive = (): void => {
    for (const s of [inventory, scheduler, executor])
      expect(
        s.logs().some((l) => l.includes('unhandled')),
        `${s.label} crashed`,
      ).toBe(false);
  };
  const stillRunning = async (s: ServiceHandle) =>
    expect(await Promise.race([s.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 50))])).toBe('running');

  it('latency on Postgres: the deadline fires (DEADLINE_EXCEEDED); the same command retried is applied once', async () => {
    pgProxy.latency(400);
    expect(await refusedWith(compose(inv, 'lat-1', 300))).toBe('DEADLINE_EXCEEDED');
    pgProxy.latency(0);
    await compose(inv, 'lat-1');
    await running(['lat-1'], 'lat-1 running');
    await requestedOnce(['lat-1']);
  });

  it('connections to Postgres reset mid-request: UNAVAILABLE, inventory keeps serving, retries apply once', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `rst-${i}`);
    // Every round trip to Postgres takes 2 x 100 ms, so the resets land in the middle of requests.
    pgProxy.latency(100);
    // The first reset 50 ms in, while every compose is still waiting on Postgres (the batcher may
    // commit all twelve in one transaction well within 250 ms), then every 250 ms.
    let resets: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      pgProxy.reset();
      resets = setInterval(() => pgProxy.reset(), 250);
    }, 50);
    const codes = await mapLimit(ids, 12, (id) => refusedWith(compose(inv, id)));
    clearTimeout(first);
    clearInterval(resets);
    pgProxy.latency(0);
    for (const c of codes) expect(['OK', 'UNAVAILABLE']).toContain(c);
    expect(codes.filter((c) => c === 'UNAVAILABLE').length, `codes ${codes.join(',')}`).toBeGreaterThan(0);
    await stillRunning(inventory);
    await mapLimit(ids, 4, (id) => compose(inv, id));
    await running(ids, 'every reset VM running');
    await requestedOnce(ids);
  });

  it('Postgres black-holed: DEADLINE_EXCEEDED; after it heals inventory recovers by itself', async () => {
    pgProxy.blackHole();
    expect(await refusedWith(compose(inv, 'bh-1', 2000))).toBe('DEADLINE_EXCEEDED');
    pgProxy.heal();
    // The pool's connections that were caught stay dead until their queries time out; then new ones work.
    await eventually(async () => (await refusedWith(compose(inv, 'bh-1', 5000))) === 'OK', 'inventory writing again', 60_000, 1000);
    await compose(inv, 'bh-2');
    await running(['bh-1', 'bh-2'], 'black-hole VMs running');
    await requestedOnce(['bh-1', 'bh-2']);
    await stillRunning(inventory);
  });

  it('NATS partitioned from inventory, then healed: composes are acknowledged and placed once it heals', async () => {
    natsProxy.partition();
    const ids = ['np-1', 'np-2', 'np-3'];
    for (const id of ids) await compose(inv, id, 10_000);
    await new Promise((r) => setTimeout(r, 3000));
    natsProxy.heal();
    await running(ids, 'partitioned VMs running after heal');
    await requestedOnce(ids);
  });

  it("NATS black-holed for inventory: its client notices, reconnects after heal, and the relay's events flow again", async () => {
    natsProxy.blackHole();
    await compose(inv, 'nb-1', 10_000);
    await new Promise((r) => setTimeout(r, 2000));
    natsProxy.heal();
    await running(['nb-1'], 'nb-1 running after the NATS black hole', 120_000);
    await requestedOnce(['nb-1']);
  });

  it("the scheduler's gRPC to inventory black-holed, then healed: placements resume without a restart", async () => {
    schedToInv.blackHole();
    await compose(inv, 'gb-1');
    await new Promise((r) => setTimeout(r, 5000));
    schedToInv.heal();
    await running(['gb-1'], 'gb-1 placed after heal', 120_000);
    await requestedOnce(['gb-1']);
    await stillRunning(scheduler);
  });

  it('a client behind the proxy: black hole -> DEADLINE_EXCEEDED, reset/partition -> UNAVAILABLE, healed -> OK', async () => {
    await callUnary(proxied, 'getVm', { vmId: 'lat-1' });
    testToInv.blackHole();
    expect(await refusedWith(callUnary(proxied, 'getVm', { vmId: 'lat-1' }, { deadline: Date.now() + 1500 }))).toBe('DEADLINE_EXCEEDED');
    testToInv.heal();
    await eventually(
      async () => (await refusedWith(callUnary(proxied, 'getVm', { vmId: 'lat-1' }, { deadline: Date.now() + 3000 }))) === 'OK',
      'the proxied channel to recover from the black hole',
      60_000,
      500,
    );
    const slow = refusedWith(
      callUnary(proxied, 'composeVm', {
        meta: { commandId: 'compose-cr-1' },
        vmId: 'cr-1',
        spec: modelV1.VmSpec.fromPartial({ name: 'cr-1', vcpus: 1, memoryBytes: GiB }),
      }),
    );
    testToInv.reset();
    const code = await slow;
    expect(['OK', 'UNAVAILABLE']).toContain(code);
    await eventually(async () => (await refusedWith(compose(proxied, 'cr-1', 3000))) === 'OK', 'compose after the reset', 30_000, 500);
    await running(['cr-1'], 'cr-1 running');
    await requestedOnce(['cr-1']);
    alive();
    audit.acknowledged = acknowledged.size;
    audit.restarts = 0;
  });
});
