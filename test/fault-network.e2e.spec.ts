/**
 * Network faults between the parts (issue 16), through FaultProxy, on one plane shared by every case:
 * inventory and the scheduler as processes, the placement executor (three simulated hosts), the
 * migration service and telemetry in this process, and every link between them through a proxy of
 * its own: each service to Postgres and to NATS, the scheduler and the migration service to
 * inventory's gRPC, the migration service to the scheduler's and to the executor's, and this test to
 * inventory. Latency, resets in the middle of requests, a black hole and a partition that heals:
 * deadlines fire, calls fail with DEADLINE_EXCEEDED or UNAVAILABLE (never INTERNAL, never a crash),
 * nothing half-applied remains (one VmRequested per acknowledged command, retried under the same
 * command id; one migration per MigrateVm command), every acknowledged request ends in its outcome,
 * and every part works again once the network heals, without a restart. The services' timeouts are
 * short (the migration's executor silence 8 s, its calls 3 s, samples and policy every second), so
 * each fault lasts just past the timeout it is about. After each case the audit (harness/fault-audit:
 * inventory's log and read model, the simulated hypervisors) is printed as a JSON line and its loss
 * figures must be 0; the last line is the whole run's.
 */
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1 as pb, migrationV1, modelV1 } from '@berth/contracts';
import { callUnary, createClient, isServiceError } from '@berth/grpc-kit';
import type { RunningMigration } from '@berth/migration';
import { createLogger } from '@berth/observability';
import type { RunningSimExecutor } from '@berth/placement-executor';
import { loadTelemetryConfig, startTelemetry, type RunningTelemetry } from '@berth/telemetry';
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
import { faultAudit, lossFigures } from './harness/fault-audit.ts';
import { startService, stopAll, type ServiceHandle } from './harness/service.ts';
import { registerSimHosts, simFleet, startSimExecutor, startSimMigration } from './harness/sim-services.ts';
import { serviceTlsEnv } from './harness/tls.ts';
import { mapLimit } from './harness/wait.ts';

const GiB = 1024 ** 3;
const HOSTS = ['h1', 'h2', 'h3', 'h4'];
/**
 * MIGRATION_EXECUTOR_SILENCE of this plane: the executor may start an attempt only half of it after the
 * claim (DestinationClaimed.startBy); its own window (EXECUTOR_MIGRATION_START_WINDOW) is set long here.
 */
const SILENCE_MILLIS = 12_000;
/** GRPC_CONNECT_TIMEOUT of the migration service: a channel connecting this long is replaced by a fresh one. */
const CONNECT_TIMEOUT_MILLIS = 3_000;
type Inventory = InstanceType<typeof pb.InventoryServiceClient>;
type Migrations = InstanceType<typeof migrationV1.MigrationServiceClient>;
const MS = migrationV1.MigrationStatus;
const ENDED = new Set([MS.MIGRATION_STATUS_COMPLETED, MS.MIGRATION_STATUS_FAILED, MS.MIGRATION_STATUS_ABORTED]);

const target = (url: string, port: number) => ({ host: new URL(url).hostname || '127.0.0.1', port: Number(new URL(url).port || port) });
const viaProxy = (url: string, proxy: FaultProxy): string => {
  const u = new URL(url);
  u.host = proxy.address;
  return u.toString();
};
const codeOf = (e: unknown): string => (isServiceError(e) ? grpc.status[e.code] : `not a gRPC error: ${String(e)}`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('network faults between the parts', () => {
  const prefix = testSubjectPrefix('faultnet');
  const fleet = simFleet(HOSTS, GiB);
  let dbs: Record<'inv' | 'ex' | 'mig' | 'tel', TestDatabase>;
  // Postgres and NATS links, one proxy per service.
  const pg = {} as Record<'inv' | 'ex' | 'mig' | 'tel', FaultProxy>;
  const nats = {} as Record<'inv' | 'sched' | 'ex' | 'mig' | 'tel', FaultProxy>;
  // gRPC links.
  let schedToInv: FaultProxy;
  let testToInv: FaultProxy;
  let migToInv: FaultProxy;
  let migToSched: FaultProxy;
  let migToEx: FaultProxy;
  let inventory: ServiceHandle;
  let scheduler: ServiceHandle;
  let ex: RunningSimExecutor | undefined;
  let mig: RunningMigration | undefined;
  let tel: RunningTelemetry | undefined;
  let inv: Inventory;
  let proxied: Inventory;
  let migrations: Migrations;
  let rounds = 0;
  const refused: Record<string, number> = {};
  const acknowledged = new Set<string>();
  /** Seconds from a heal to the part working again, per link and fault (the figures of docs/reliability.md). */
  const recovery: Record<string, number> = {};

  beforeAll(async () => {
    const [i, e, m, t] = await Promise.all(['inv', 'ex', 'mig', 'tel'].map((s) => createTestDatabase(`faultnet_${s}`)));
    dbs = { inv: i!, ex: e!, mig: m!, tel: t! };
    for (const k of ['inv', 'ex', 'mig', 'tel'] as const) pg[k] = await FaultProxy.start(target(databaseUrl(), 5432));
    for (const k of ['inv', 'sched', 'ex', 'mig', 'tel'] as const) nats[k] = await FaultProxy.start(target(natsUrl(), 4222));
    const natsVia = (k: keyof typeof nats) => viaProxy(natsUrl(), nats[k]);
    inventory = await startService(
      'inventory',
      { DATABASE_URL: viaProxy(dbs.inv.url, pg.inv), NATS_URL: natsVia('inv'), NATS_PREFIX: prefix },
      { readyTimeoutMillis: 240_000 },
    );
    schedToInv = await FaultProxy.start({ host: '127.0.0.1', port: inventory.port });
    testToInv = await FaultProxy.start({ host: '127.0.0.1', port: inventory.port });
    migToInv = await FaultProxy.start({ host: '127.0.0.1', port: inventory.port });
    scheduler = await startService(
      'scheduler',
      { NATS_PREFIX: prefix, NATS_URL: natsVia('sched'), INVENTORY_ADDR: schedToInv.address },
      { readyTimeoutMillis: 240_000 },
    );
    migToSched = await FaultProxy.start({ host: '127.0.0.1', port: scheduler.port });
    ex = await startSimExecutor(fleet, {
      databaseUrl: viaProxy(dbs.ex.url, pg.ex),
      prefix,
      name: 'faultnet-executor',
      // A long window of its own (the default is 30 s): what keeps a late start from following the
      // watchdog's verdict is the deadline the migration service writes in DestinationClaimed.
      env: { NATS_URL: natsVia('ex'), EXECUTOR_SAMPLE_INTERVAL: '1s', EXECUTOR_MIGRATION_START_WINDOW: '120s' },
    });
    migToEx = await FaultProxy.start({ host: '127.0.0.1', port: ex.port });
    mig = await startSimMigration({
      databaseUrl: viaProxy(dbs.mig.url, pg.mig),
      prefix,
      name: 'faultnet-migration',
      inventoryAddr: migToInv.address,
      schedulerAddr: migToSched.address,
      env: {
        NATS_URL: natsVia('mig'),
        EXECUTOR_ADDR: migToEx.address,
        MIGRATION_EXECUTOR_SILENCE: `${SILENCE_MILLIS}ms`,
        MIGRATION_CALL_DEADLINE: '3s',
        // A channel connecting for longer than this is replaced (the probe's link is black-holed below).
        GRPC_CONNECT_TIMEOUT: `${CONNECT_TIMEOUT_MILLIS}ms`,
      },
    });
    tel = await startTelemetry(
      loadTelemetryConfig({
        ...serviceTlsEnv('telemetry'),
        NATS_URL: natsVia('tel'),
        NATS_PREFIX: prefix,
        DATABASE_URL: viaProxy(dbs.tel.url, pg.tel),
        TELEMETRY_GRPC_PORT: '0',
        TELEMETRY_POLICY_INTERVAL: '1s',
      }),
      createLogger('faultnet-telemetry'),
    );
    inv = createClient(pb.InventoryServiceClient, inventory.address, { deadlineMillis: 30_000 });
    proxied = createClient(pb.InventoryServiceClient, testToInv.address, { deadlineMillis: 30_000 });
    migrations = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${mig.port}`, { deadlineMillis: 30_000 });
    await registerSimHosts(inv, HOSTS);
  });
  afterAll(async () => {
    // A case that failed half-way leaves its fault in place: every link heals before the audit and the stops.
    for (const p of [...Object.values(pg), ...Object.values(nats), schedToInv, testToInv, migToInv, migToSched, migToEx]) {
      p?.latency(0);
      p?.heal();
    }
    if (inv) {
      const a = await faultAudit({ inventoryDbUrl: dbs.inv.url, inventory: inv, acknowledged, rounds, domains }).catch((e: unknown) => ({
        error: String(e),
      }));
      console.log(JSON.stringify({ test: 'fault-network', case: 'all', ...a, refused, recovery }));
    }
    inv?.close();
    proxied?.close();
    migrations?.close();
    await tel?.stop();
    await mig?.stop();
    await ex?.stop();
    // stopAll also ends a service whose sibling failed to start (its handle was never assigned here).
    await stopAll();
    await Promise.all(
      [...Object.values(pg), ...Object.values(nats), schedToInv, testToInv, migToInv, migToSched, migToEx].map((p) => p?.close()),
    );
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all(Object.values(dbs ?? {}).map((d) => d.drop()));
  });

  /** Where each VM's domain runs, per the simulated hypervisors. */
  const domains = async (): Promise<Map<string, string[]>> => {
    const on = new Map<string, string[]>();
    for (const h of HOSTS)
      for (const d of await fleet.driver(`sim://${h}`).listDomains())
        if (d.vmId !== undefined && d.state === 'running') on.set(d.vmId, [...(on.get(d.vmId) ?? []), h]);
    return on;
  };
  /** The audit after a case: printed, and every loss figure 0. */
  const audited = async (name: string): Promise<void> => {
    // Inventory's read model (ListVms) follows its log by up to a poll: a VM the log already moved may
    // still show its old host there for a moment. The audit is taken again until it is clean or 20 s passed.
    const audit = () => faultAudit({ inventoryDbUrl: dbs.inv.url, inventory: inv, acknowledged, rounds, domains });
    let a = await audit();
    for (const until = Date.now() + 20_000; a.problems.length > 0 && Date.now() < until; a = await audit()) await sleep(500);
    console.log(JSON.stringify({ test: 'fault-network', case: name, ...a }));
    expect(lossFigures(a), a.problems.join('\n')).toEqual({
      lost: 0,
      duplicated: 0,
      overcommitted: 0,
      leakedClaims: 0,
      duplicateDomains: 0,
    });
  };
  const fault = (f: () => void): void => {
    rounds++;
    f();
  };
  const timed = async (link: string, healedAt: number, p: Promise<unknown>): Promise<void> => {
    await p;
    recovery[link] = Math.round((Date.now() - healedAt) / 100) / 10;
  };

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
      refused[code] = (refused[code] ?? 0) + 1;
      return code;
    }
  };
  const vmOf = async (vmId: string) => (await callUnary(inv, 'getVm', { vmId })).vm!;
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
    for (const e of await readEventLog(dbs.inv.url))
      if (e.type === 'VmRequested' && Number(e.data['attempt'] ?? 1) === 1)
        counts.set(String(e.data['vmId']), (counts.get(String(e.data['vmId'])) ?? 0) + 1);
    for (const id of vmIds) expect(counts.get(id) ?? 0, `VmRequested of ${id}`).toBe(1);
  };
  const alive = (): void => {
    for (const s of [inventory, scheduler])
      expect(
        s.logs().some((l) => l.includes('unhandled')),
        `${s.label} crashed`,
      ).toBe(false);
  };
  const stillRunning = async (s: ServiceHandle) =>
    expect(await Promise.race([s.exited.then(() => 'exited'), new Promise((r) => setTimeout(() => r('running'), 50))])).toBe('running');

  /** One MigrateVm (the destination chosen by the scheduler unless named); answers the migration id. */
  const migrateOnce = async (vmId: string, to = 'auto', deadlineMillis = 30_000): Promise<string> =>
    (
      await callUnary(
        migrations,
        'migrateVm',
        { meta: { commandId: `migrate-${vmId}` }, vmId, destinationHostId: to, reason: 'fault-network' },
        { deadline: Date.now() + deadlineMillis },
      )
    ).migration!.migrationId;
  /**
   * MigrateVm as a client does it: asked again under the same command id while the answer is
   * UNAVAILABLE or DEADLINE_EXCEEDED (MigrateVm reads the VM from inventory: a fault on that link, or
   * the channel's reconnect backoff after one, answers UNAVAILABLE); any other refusal fails the test.
   */
  const migrate = async (vmId: string, to = 'auto', deadlineMillis = 10_000): Promise<string> => {
    let id = '';
    await eventually(
      async () => {
        const code = await refusedWith(migrateOnce(vmId, to, deadlineMillis).then((x) => void (id = x)));
        if (code !== 'OK' && code !== 'UNAVAILABLE' && code !== 'DEADLINE_EXCEEDED') throw new Error(`MigrateVm of ${vmId}: ${code}`);
        return code === 'OK';
      },
      `MigrateVm of ${vmId} answered`,
      90_000,
      500,
    );
    return id;
  };
  const migrationOf = async (migrationId: string) => (await callUnary(migrations, 'getMigration', { migrationId })).migration!;
  /** Waits until the migration ended (completed, failed or aborted; never SWITCHED_OVER) and answers it. */
  const ended = (migrationId: string, what: string, timeoutMillis = 120_000) =>
    eventually(
      async () => {
        const m = await migrationOf(migrationId);
        return ENDED.has(m.status) && m;
      },
      what,
      timeoutMillis,
      250,
    );
  /** One MigrationRequested per MigrateVm command (the command retried under its id made no second). */
  const requestedMigrationOnce = async (vmId: string): Promise<void> => {
    const n = (await readEventLog(dbs.mig.url)).filter((e) => e.type === 'MigrationRequested' && e.data['vmId'] === vmId).length;
    expect(n, `MigrationRequested of ${vmId}`).toBe(1);
  };
  /** The VM runs on exactly one host, the one inventory places it on, which holds its only claim. */
  const placedOnce = async (vmId: string): Promise<string> => {
    const vm = await vmOf(vmId);
    expect(pb.VmStatus[vm.status]).toBe('VM_STATUS_RUNNING');
    expect((await domains()).get(vmId) ?? [], `${vmId}'s domains`).toEqual([vm.hostId]);
    const claimedOn: string[] = [];
    for (const h of HOSTS)
      if (((await callUnary(inv, 'getHost', { hostId: h })).host?.claims ?? []).some((c) => c.vmId === vmId)) claimedOn.push(h);
    expect(claimedOn, `${vmId}'s claims`).toEqual([vm.hostId]);
    return vm.hostId;
  };
  /** Telemetry's newest sample of any host (ms since epoch), and how many records its log holds. */
  const newestSample = (): number => Math.max(0, ...HOSTS.map((h) => tel!.history.get(h)?.lastAtMillis ?? 0));
  const telemetryRecords = async (): Promise<number> => (await readEventLog(dbs.tel.url)).length;
  const samplesAfter = (since: number, what: string, timeoutMillis = 60_000) =>
    eventually(() => newestSample() > since, what, timeoutMillis, 200);
  const recordsAfter = async (n: number, what: string, timeoutMillis = 90_000) =>
    eventually(async () => (await telemetryRecords()) > n, what, timeoutMillis, 500);

  // ---- inventory's links ----

  it('latency on Postgres: the deadline fires (DEADLINE_EXCEEDED); the same command retried is applied once', async () => {
    fault(() => pg.inv.latency(400));
    expect(await refusedWith(compose(inv, 'lat-1', 300))).toBe('DEADLINE_EXCEEDED');
    pg.inv.latency(0);
    await compose(inv, 'lat-1');
    await running(['lat-1'], 'lat-1 running');
    await requestedOnce(['lat-1']);
    await audited('inventory-postgres-latency');
  });

  it('connections to Postgres reset mid-request: UNAVAILABLE, inventory keeps serving, retries apply once', async () => {
    const ids = Array.from({ length: 12 }, (_, i) => `rst-${i}`);
    // Every round trip to Postgres takes 2 x 100 ms, so the resets land in the middle of requests.
    pg.inv.latency(100);
    // The first reset 50 ms in, while every compose is still waiting on Postgres (the batcher may
    // commit all twelve in one transaction well within 250 ms), then every 250 ms.
    let resets: NodeJS.Timeout | undefined;
    const first = setTimeout(() => {
      fault(() => pg.inv.reset());
      resets = setInterval(() => fault(() => pg.inv.reset()), 250);
    }, 50);
    const codes = await mapLimit(ids, 12, (id) => refusedWith(compose(inv, id)));
    clearTimeout(first);
    clearInterval(resets);
    pg.inv.latency(0);
    for (const c of codes) expect(['OK', 'UNAVAILABLE']).toContain(c);
    expect(codes.filter((c) => c === 'UNAVAILABLE').length, `codes ${codes.join(',')}`).toBeGreaterThan(0);
    await stillRunning(inventory);
    await mapLimit(ids, 4, (id) => compose(inv, id));
    await running(ids, 'every reset VM running');
    await requestedOnce(ids);
    await audited('inventory-postgres-reset');
  });

  it('Postgres black-holed: DEADLINE_EXCEEDED; after it heals inventory recovers by itself', async () => {
    fault(() => pg.inv.blackHole());
    expect(await refusedWith(compose(inv, 'bh-1', 2000))).toBe('DEADLINE_EXCEEDED');
    pg.inv.heal();
    const healed = Date.now();
    // The pool's connections that were caught stay dead until their queries time out; then new ones work.
    await timed(
      'inventory-postgres-blackhole',
      healed,
      eventually(async () => (await refusedWith(compose(inv, 'bh-1', 5000))) === 'OK', 'inventory writing again', 60_000, 1000),
    );
    await compose(inv, 'bh-2');
    await running(['bh-1', 'bh-2'], 'black-hole VMs running');
    await requestedOnce(['bh-1', 'bh-2']);
    await stillRunning(inventory);
    await audited('inventory-postgres-blackhole');
  });

  it("the scheduler's gRPC to inventory black-holed, then healed: placements resume without a restart", async () => {
    fault(() => schedToInv.blackHole());
    await compose(inv, 'gb-1');
    await sleep(5000);
    schedToInv.heal();
    await timed('scheduler-inventory-blackhole', Date.now(), running(['gb-1'], 'gb-1 placed after heal', 120_000));
    await requestedOnce(['gb-1']);
    await stillRunning(scheduler);
    await audited('scheduler-inventory-blackhole');
  });

  it('a client behind the proxy: black hole -> DEADLINE_EXCEEDED, reset/partition -> UNAVAILABLE, healed -> OK', async () => {
    await callUnary(proxied, 'getVm', { vmId: 'lat-1' });
    fault(() => testToInv.blackHole());
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
    fault(() => testToInv.reset());
    const code = await slow;
    expect(['OK', 'UNAVAILABLE']).toContain(code);
    await eventually(async () => (await refusedWith(compose(proxied, 'cr-1', 3000))) === 'OK', 'compose after the reset', 30_000, 500);
    await running(['cr-1'], 'cr-1 running');
    await requestedOnce(['cr-1']);
    alive();
    await audited('client-inventory');
  });

  // ---- the executor's, the migration service's and telemetry's Postgres ----

  it('Postgres reset mid-request for the executor, the migration service and telemetry: provisioning, a migration and the decision log go on', async () => {
    await compose(inv, 'pr-m');
    await running(['pr-m'], 'pr-m running');
    const records = await telemetryRecords();
    // Asked before the resets (MigrateVm reads and appends in the migration service's Postgres); the
    // runner's steps, the executor's provisioning of the three VMs and telemetry's flushes meet them.
    const migrationId = await migrate('pr-m');
    await Promise.all(['pr-1', 'pr-2', 'pr-3'].map((id) => compose(inv, id)));
    for (const p of [pg.ex, pg.mig, pg.tel]) p.latency(100);
    const resets = setInterval(() => fault(() => [pg.ex, pg.mig, pg.tel].forEach((p) => p.reset())), 500);
    await sleep(3000);
    clearInterval(resets);
    for (const p of [pg.ex, pg.mig, pg.tel]) p.latency(0);
    const healed = Date.now();
    // The relays, projections and redeliveries back off while Postgres fails (up to 30 s): bounded, not at once.
    await timed('executor-postgres-reset', healed, running(['pr-1', 'pr-2', 'pr-3'], 'VMs composed under executor resets running'));
    const m = await ended(migrationId, 'the migration under migration-service resets ended');
    recovery['migration-postgres-reset'] = Math.round((Date.now() - healed) / 100) / 10;
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('pr-m');
    await requestedMigrationOnce('pr-m');
    await timed('telemetry-postgres-reset', healed, recordsAfter(records, "telemetry's log growing after the resets"));
    await requestedOnce(['pr-1', 'pr-2', 'pr-3']);
    await audited('executor-migration-telemetry-postgres-reset');
  });

  it('Postgres black-holed for the executor, the migration service and telemetry: a MigrateVm meets its deadline; all recover without a restart', async () => {
    await compose(inv, 'pb-m');
    await running(['pb-m'], 'pb-m running');
    fault(() => pg.ex.blackHole());
    fault(() => pg.mig.blackHole());
    fault(() => pg.tel.blackHole());
    const records = await telemetryRecords();
    await compose(inv, 'pb-1');
    expect(['DEADLINE_EXCEEDED', 'UNAVAILABLE']).toContain(await refusedWith(migrateOnce('pb-m', 'auto', 2000)));
    await sleep(1000);
    for (const p of [pg.ex, pg.mig, pg.tel]) p.heal();
    const healed = Date.now();
    // The same MigrateVm command again until it is answered: one migration.
    let migrationId = '';
    await timed(
      'migration-postgres-blackhole',
      healed,
      migrate('pb-m', 'auto', 5000).then((id) => void (migrationId = id)),
    );
    await timed('executor-postgres-blackhole', healed, running(['pb-1'], 'pb-1 provisioned after the black hole', 120_000));
    await timed('telemetry-postgres-blackhole', healed, recordsAfter(records, "telemetry's log growing after the black hole"));
    const m = await ended(migrationId, 'the migration asked after the black hole ended');
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('pb-m');
    await requestedMigrationOnce('pb-m');
    await requestedOnce(['pb-1']);
    await audited('executor-migration-telemetry-postgres-blackhole');
  });

  // ---- NATS ----

  it('NATS partitioned from every service, then healed: what waited is delivered, composes and a migration complete, samples resume', async () => {
    await compose(inv, 'np-m');
    await running(['np-m'], 'np-m running');
    for (const p of Object.values(nats)) fault(() => p.partition());
    const ids = ['np-1', 'np-2', 'np-3'];
    for (const id of ids) await compose(inv, id, 10_000);
    const migrationId = await migrate('np-m');
    // Shorter than the executor silence: the migration waits for the executor's reports, it does not give up.
    await sleep(3000);
    const before = newestSample();
    for (const p of Object.values(nats)) p.heal();
    const healed = Date.now();
    await timed('telemetry-nats-partition', healed, samplesAfter(before, 'a sample after the NATS partition'));
    await timed('scheduler-executor-nats-partition', healed, running(ids, 'partitioned VMs running after heal'));
    const m = await ended(migrationId, 'the migration asked during the partition ended');
    recovery['migration-nats-partition'] = Math.round((Date.now() - healed) / 100) / 10;
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('np-m');
    await requestedOnce(ids);
    await audited('nats-partition');
  });

  it('NATS connections of every service reset, mid-stream: the clients reconnect, consumers and subscriptions resume', async () => {
    await compose(inv, 'nr-m');
    await running(['nr-m'], 'nr-m running');
    const migrationId = await migrate('nr-m');
    await compose(inv, 'nr-1');
    for (let i = 0; i < 3; i++) {
      for (const p of Object.values(nats)) fault(() => p.reset());
      await sleep(300);
    }
    const reset = Date.now();
    const before = newestSample();
    await timed('telemetry-nats-reset', reset, samplesAfter(before, 'a sample after the NATS resets'));
    await compose(inv, 'nr-2');
    await timed('scheduler-executor-nats-reset', reset, running(['nr-1', 'nr-2'], 'VMs composed around the NATS resets running'));
    const m = await ended(migrationId, 'the migration around the resets ended');
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('nr-m');
    // Samples keep coming: each host's newest sample moves on (a subscription that was not resumed would stop here).
    const later = newestSample();
    await samplesAfter(later, 'samples still coming after the resets');
    await requestedOnce(['nr-1', 'nr-2']);
    await audited('nats-reset');
  });

  it('NATS black-holed for every service: each client notices (3 missed pings), reconnects after heal, and everything flows again', async () => {
    await compose(inv, 'nb-m');
    await running(['nb-m'], 'nb-m running');
    for (const p of Object.values(nats)) fault(() => p.blackHole());
    await compose(inv, 'nb-1', 10_000);
    const migrationId = await migrate('nb-m');
    await sleep(2000);
    const before = newestSample();
    for (const p of Object.values(nats)) p.heal();
    const healed = Date.now();
    await timed('telemetry-nats-blackhole', healed, samplesAfter(before, 'a sample after the NATS black hole', 120_000));
    await timed('every-nats-blackhole', healed, running(['nb-1'], 'nb-1 running after the NATS black hole', 120_000));
    // The migration service heard nothing of the executor for longer than its silence: it may have
    // given attempts up (their claims released) and retried; whatever it ended in, the VM is in one place.
    const m = await ended(migrationId, 'the migration asked during the black hole ended', 180_000);
    recovery['migration-nats-blackhole'] = Math.round((Date.now() - healed) / 100) / 10;
    expect([MS.MIGRATION_STATUS_COMPLETED, MS.MIGRATION_STATUS_FAILED]).toContain(m.status);
    await placedOnce('nb-m');
    await requestedMigrationOnce('nb-m');
    await requestedOnce(['nb-1']);
    await audited('nats-blackhole');
  });

  // ---- the migration service's gRPC links ----

  it("the migration service's gRPC to inventory and to the scheduler black-holed mid-migration: its calls time out and are retried; it completes after the heal", async () => {
    await Promise.all(['gi-m', 'gs-m'].map((id) => compose(inv, id)));
    await running(['gi-m', 'gs-m'], 'gi-m and gs-m running');
    // MigrateVm reads the VM from inventory before it answers: the link is cut once it is answered,
    // when the runner's claim (BeginVmMigration) and completion calls are still to come.
    const toInv = await migrate('gi-m');
    fault(() => migToInv.blackHole());
    await sleep(4000);
    expect(MS[(await migrationOf(toInv)).status], 'no claim without inventory').not.toBe('MIGRATION_STATUS_COMPLETED');
    migToInv.heal();
    let healed = Date.now();
    let m = await ended(toInv, 'the migration cut from inventory ended');
    recovery['migration-inventory-blackhole'] = Math.round((Date.now() - healed) / 100) / 10;
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('gi-m');
    fault(() => migToSched.blackHole());
    const toSched = await migrate('gs-m');
    await sleep(4000);
    expect(MS[(await migrationOf(toSched)).status], 'no destination without the scheduler').toBe('MIGRATION_STATUS_REQUESTED');
    migToSched.heal();
    healed = Date.now();
    m = await ended(toSched, 'the migration cut from the scheduler ended');
    recovery['migration-scheduler-blackhole'] = Math.round((Date.now() - healed) / 100) / 10;
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('gs-m');
    await requestedMigrationOnce('gi-m');
    await requestedMigrationOnce('gs-m');
    await audited('migration-inventory-scheduler-blackhole');
  });

  it("the migration service's gRPC to inventory and the scheduler reset mid-call: retried under the same command ids, completed once", async () => {
    await compose(inv, 'gr-m');
    await running(['gr-m'], 'gr-m running');
    const migrationId = await migrate('gr-m');
    // The runner's calls (score, claim, completion) each take 2 x 100 ms, and resets land among them.
    migToInv.latency(100);
    migToSched.latency(100);
    const resets = setInterval(() => fault(() => [migToInv, migToSched].forEach((p) => p.reset())), 250);
    await sleep(2000);
    clearInterval(resets);
    migToInv.latency(0);
    migToSched.latency(0);
    const m = await ended(migrationId, 'the migration under gRPC resets ended');
    expect(MS[m.status], m.reason).toBe('MIGRATION_STATUS_COMPLETED');
    await placedOnce('gr-m');
    await requestedMigrationOnce('gr-m');
    await audited('migration-inventory-scheduler-reset');
  });

  // The probe's link is black-holed after a reset: the channel's next connection attempt (the first
  // probe's) is swallowed. grpc-js alone would stay CONNECTING on it for good; the kit's channel is
  // replaced after GRPC_CONNECT_TIMEOUT, so a probe after the heal reaches the executor.
  it("the watchdog's probe of the executor black-holed while the executor is cut from NATS: the attempt is settled once, never carried out behind its back", async () => {
    await compose(inv, 'wx-m');
    await running(['wx-m'], 'wx-m running');
    // The executor hears nothing of the migration (its DestinationClaimed waits in the partition), and
    // the watchdog's probes of it get no answer: an open connection is reset, a new one swallowed.
    fault(() => nats.ex.partition());
    fault(() => {
      migToEx.reset();
      migToEx.blackHole();
    });
    const migrationId = await migrate('wx-m');
    const probed = (outcome: string) => async () =>
      (await migrationOf(migrationId)).attempts.some((a) => a.probes.some((p) => p.outcome === outcome));
    // Silent past MIGRATION_EXECUTOR_SILENCE: the probe cannot reach the executor; never a guess.
    await eventually(probed('unreachable'), 'a probe that could not reach the executor', 60_000, 250);
    expect(MS[(await migrationOf(migrationId)).status]).not.toBe('MIGRATION_STATUS_FAILED');
    // The probe reaches the executor again (a fresh channel: the swallowed attempt's was replaced), which
    // has no migration under way: the attempt failed and its claim goes back. The watchdog asks again one
    // silence after the unreachable probe, so this takes up to that long.
    migToEx.heal();
    await timed(
      'migration-executor-probe-blackhole',
      Date.now(),
      eventually(
        async () => (await migrationOf(migrationId)).attempts.some((a) => a.attempt === 1 && a.outcome === 'failed'),
        'attempt 1 given up after the probe',
        60_000,
        250,
      ),
    );
    // Then the executor hears, within its own start window, the DestinationClaimed of the attempt given up.
    nats.ex.heal();
    const healed = Date.now();
    const m = await ended(migrationId, 'the migration ended after the executor came back', 180_000);
    recovery['migration-executor-nats-partition'] = Math.round((Date.now() - healed) / 100) / 10;
    expect([MS.MIGRATION_STATUS_COMPLETED, MS.MIGRATION_STATUS_FAILED]).toContain(m.status);
    // Whatever it ended in: the VM runs on one host, inventory places it there and only there holds its claim.
    const on = await placedOnce('wx-m');
    if (m.status === MS.MIGRATION_STATUS_COMPLETED) expect(on).toBe(m.destinationHostId);
    await requestedMigrationOnce('wx-m');
    // The executor's log agrees: the VM on that host, no migration under way.
    expect(
      await eventually(
        async () => {
          const r = await ex!.vms.load('wx-m');
          return 'migration' in r && r.migration ? false : r;
        },
        "the executor's record of wx-m settled",
        30_000,
      ),
    ).toMatchObject({ location: { hostId: on } });
    await audited('migration-executor-blackhole');
  });
});
