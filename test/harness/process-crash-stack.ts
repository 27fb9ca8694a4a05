/**
 * The migration crash tests' stack, every service a real process: inventory, the scheduler, the
 * placement executor and the migration service, each SIGKILLable at any moment and started again
 * on its port, database and durables. The hypervisors are a simulator daemon (sim-daemon.ts), a
 * process of its own, so a killed executor's domains and migration jobs go on as a real host's do.
 *
 * Deterministic kill points, no waiting on luck:
 * - `hold.arm(...)` stops the migration service in a chosen call to inventory or the scheduler
 *   (a gRPC proxy in front of each, grpc-hold-proxy.ts): before the call reached the service, or
 *   after it went through (its answer withheld), so the kill lands on that exact step;
 * - the simulator's injected `stall` stops a live migration's copy part-way (the job stays, the
 *   executor is inside its `migrate` call) until `sim.releaseStall(vm)`;
 * - `freeze('executor')` (SIGSTOP) keeps a migration in `destination-claimed` or `aborting`: the
 *   executor has not heard of the claim or the cancel when the SIGKILL comes.
 * Several holds may be armed at once (one per migration), so one SIGKILL lands on many steps.
 * `violations(vmIds)` checks the invariants (migration-invariants.ts) on every record.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { executorV1, inventoryV1, migrationV1, modelV1, schedulerV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import type { RemoteSimulator } from '@berth/hypervisor';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  freePort,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import { startHoldProxy, type HoldProxy } from './grpc-hold-proxy.ts';
import { fleetViolations } from './migration-invariants.ts';
import { startService, type ServiceHandle } from './service.ts';
import { startSimDaemon, type SimDaemon } from './sim-daemon.ts';
import { GiB, registerSimHosts, SIM_HOST_CPUS } from './sim-services.ts';

export type CrashTarget = 'executor' | 'migration' | 'inventory' | 'scheduler';

export type HeldCall = 'score' | 'beginMigration' | 'completeMigration' | 'abortMigration';

/** Where the migration service is held: its first call of `call` for `vmId`, before or after it went through. */
export interface HoldPoint {
  readonly call: HeldCall;
  readonly when: 'before' | 'after';
  readonly vmId: string;
  /** And the request passes this too (e.g. a score that excludes a failed destination: a retry's). */
  readonly also?: (request: Record<string, unknown>) => boolean;
}

export interface ProcessCrashStackOptions {
  /** Added to (or overriding) a service's environment. */
  readonly env?: Partial<Record<CrashTarget, Record<string, string>>>;
  /** A host's resource pool (default: none): VMs of a pool stay on its hosts, a balancer policy is per pool. */
  readonly pools?: Readonly<Record<string, string>>;
  /** A host's CPUs (default: SIM_HOST_CPUS), in inventory and on the simulator. */
  readonly cpus?: Readonly<Record<string, number>>;
}

/** How `compose` makes a VM (default: 1 vCPU, 2 GiB, no pool, manual-and-automatic, running). */
export interface ComposeOptions {
  readonly pool?: string;
  readonly vcpus?: number;
  readonly mode?: modelV1.MigrationMode;
  /** Stopped once running (a cold move's VM). */
  readonly stopped?: boolean;
}

const HELD: Record<HeldCall, { proxy: 'inventory' | 'scheduler'; method: string }> = {
  score: { proxy: 'scheduler', method: 'score' },
  beginMigration: { proxy: 'inventory', method: 'beginVmMigration' },
  completeMigration: { proxy: 'inventory', method: 'completeVmMigration' },
  abortMigration: { proxy: 'inventory', method: 'abortVmMigration' },
};

export interface ProcessCrashStack {
  readonly sim: RemoteSimulator;
  readonly hosts: readonly string[];
  /** Arms a hold (beside others); resolves once the migration service's call reached it. `proceedAll` lets every held call go on. */
  readonly hold: { arm(point: HoldPoint): Promise<void>; proceedAll(): void };
  readonly inv: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  /** The migration service's client (its port stays across restarts). */
  readonly client: InstanceType<typeof migrationV1.MigrationServiceClient>;
  readonly migrationAddress: string;
  readonly dbs: { readonly inventory: TestDatabase; readonly executor: TestDatabase; readonly migration: TestDatabase };
  /**
   * SIGKILLs the named processes (at once). A call the migration service is held in then fails when its
   * caller (the migration service) or the service it calls died, and goes on otherwise.
   */
  crash(which: readonly CrashTarget[]): Promise<void>;
  /** SIGSTOPs a running process (it hears nothing, answers nothing), until `thaw` or a `crash`. */
  freeze(which: CrashTarget): void;
  /** SIGCONTs it (a no-op when it was killed meanwhile). */
  thaw(which: CrashTarget): void;
  /** Starts whichever is not running, on its old port, and waits until the scheduler sees every host again. */
  restart(): Promise<void>;
  getVm(vmId: string): Promise<inventoryV1.Vm>;
  /** The migration as the migration service answers it. */
  migration(migrationId: string): Promise<migrationV1.Migration>;
  /** The VM as the executor's log and its hypervisor have it. */
  runtime(vmId: string): Promise<executorV1.GetVmRuntimeResponse>;
  /** Deletes from a stream the events of `type` about `vmId` (a message lost for good); returns how many. */
  dropEvents(stream: 'BERTH_EXECUTOR' | 'BERTH_MIGRATION', type: string, vmId: string): Promise<number>;
  compose(vmId: string, o?: ComposeOptions): Promise<void>;
  claimsOf(hostId: string): Promise<string[]>;
  hostState(hostId: string): Promise<modelV1.HostState>;
  setHostState(hostId: string, state: modelV1.HostState, commandId: string): Promise<void>;
  /** The hosts whose hypervisor has the VM's domain, with its state. */
  domains(vmId: string): Promise<{ hostId: string; state: string }[]>;
  /** Every domain of a host's hypervisor (by VM id). */
  hostDomains(hostId: string): Promise<{ vmId: string; state: string }[]>;
  /** Every violation of the crash-safety invariants for these VMs ([] when they hold): migration-invariants.ts; `stopped` ones checked stopped. */
  violations(vmIds: readonly string[], stopped?: ReadonlySet<string>): Promise<string[]>;
  /** How long each start took until SERVING, by label (`executor-2`), in ms. */
  startMillis(): Readonly<Record<string, number>>;
  /** The starts that exited before serving and were started again (why), as a supervisor would. */
  exitsBeforeServing(): readonly string[];
  /** Processes that exited while running without being killed (a crash of their own), with their last log lines. */
  exitedOnTheirOwn(): readonly string[];
  /** Every process's log lines, by label (for a failure's message). */
  logs(): Record<string, readonly string[]>;
  stop(): Promise<void>;
}

export async function startProcessCrashStack(
  label: string,
  hosts: readonly string[],
  options: ProcessCrashStackOptions = {},
): Promise<ProcessCrashStack> {
  const prefix = testSubjectPrefix(label);
  const [invDb, exDb, migDb] = (await Promise.all(['inv', 'ex', 'mig'].map((s) => createTestDatabase(`${label}_${s}`)))) as [
    TestDatabase,
    TestDatabase,
    TestDatabase,
  ];
  // 1 GiB/s: a 2 GiB guest moves in about two seconds; progress every 100 ms.
  const daemon: SimDaemon = await startSimDaemon(label, {
    SIM_HOSTS: hosts.join(','),
    SIM_HOST_CPUS: String(Math.max(SIM_HOST_CPUS, ...Object.values(options.cpus ?? {}))),
    SIM_HOST_MEMORY: '64 GiB',
    SIM_MIGRATION_BANDWIDTH: '1 GiB',
    SIM_PROGRESS_INTERVAL: '100ms',
  });
  const [invPort, schedPort, exPort, migPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const envs: Record<CrashTarget, Record<string, string>> = {
    inventory: { DATABASE_URL: invDb.url, NATS_PREFIX: prefix },
    scheduler: { NATS_PREFIX: prefix, INVENTORY_ADDR: `127.0.0.1:${invPort}` },
    executor: {
      DATABASE_URL: exDb.url,
      NATS_PREFIX: prefix,
      EXECUTOR_SIMULATOR_URL: daemon.url,
      EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '2s' }),
      // Not faster: each report is an append to the migration's stream, which a cancel then races.
      EXECUTOR_MIGRATION_PROGRESS_INTERVAL: '500ms',
      EXECUTOR_MIGRATION_START_WINDOW: '5s',
      EXECUTOR_SWEEP_INTERVAL: '300ms',
      EXECUTOR_SAMPLE_INTERVAL: '0s',
    },
    migration: {}, // below: it needs the proxies' addresses
  };
  const ports: Record<CrashTarget, number> = { inventory: invPort, scheduler: schedPort, executor: exPort, migration: migPort };
  const service: Record<CrashTarget, string> = {
    inventory: 'inventory',
    scheduler: 'scheduler',
    executor: 'placement-executor',
    migration: 'migration',
  };
  const running: Partial<Record<CrashTarget, ServiceHandle>> = {};
  const starts: Record<CrashTarget, number> = { inventory: 0, scheduler: 0, executor: 0, migration: 0 };
  const logs: Record<string, readonly string[]> = {};
  const startMillis: Record<string, number> = {};
  const exitsBeforeServing: string[] = [];
  const start = async (t: CrashTarget): Promise<void> => {
    const l = `${t}-${++starts[t]}`;
    const began = Date.now();
    // As a supervisor does: a process that exits before it serves (on a loaded machine, NATS's
    // authentication timeout at connect) is started again, twice at most; counted in `restartsAfterExit`.
    let h: ServiceHandle | undefined;
    for (let tries = 0; h === undefined; tries++) {
      try {
        h = await startService(
          service[t],
          { ...envs[t], ...options.env?.[t] },
          { port: ports[t], label: tries === 0 ? l : `${l}.${tries}` },
        );
      } catch (e) {
        if (tries >= 2 || !/exited \(/.test(String(e))) throw e;
        exitsBeforeServing.push(`${l}: ${String(e).slice(0, 300)}`);
      }
    }
    startMillis[l] = Date.now() - began;
    running[t] = h;
    logs[l] = h.logs();
    const started = h;
    void h.exited.then((how) => {
      // Still the running one: nobody killed or stopped it.
      if (running[t] === started) exitedOnTheirOwn.push(`${l} exited (${how}): ${started.logs().slice(-15).join('\n')}`);
    });
  };
  const proxies: HoldProxy[] = [];
  let inv: InstanceType<typeof inventoryV1.InventoryServiceClient> | undefined;
  let client: InstanceType<typeof migrationV1.MigrationServiceClient> | undefined;
  let exClient: InstanceType<typeof executorV1.ExecutorServiceClient> | undefined;
  /** Processes that exited without being killed (a crash of their own), with how. */
  const exitedOnTheirOwn: string[] = [];
  /** A signal to a running process; one that exited on its own meanwhile is recorded (`exitedOnTheirOwn`), not signalled. */
  const signal = (t: CrashTarget, sig: NodeJS.Signals): void => {
    const h = running[t];
    if (!h || h.pid <= 0) return;
    try {
      process.kill(h.pid, sig);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
    }
  };
  const stop = async (): Promise<void> => {
    // A frozen process hears SIGTERM only once it runs again.
    for (const t of Object.keys(running) as CrashTarget[]) signal(t, 'SIGCONT');
    inv?.close();
    client?.close();
    exClient?.close();
    for (const p of proxies) await p.close();
    await Promise.all(Object.values(running).map((h) => h.stop()));
    await daemon.stop();
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await Promise.all([invDb, exDb, migDb].map((d) => d.drop()));
  };
  try {
    await start('inventory');
    const invProxy = await startHoldProxy(inventoryV1.InventoryServiceService, `127.0.0.1:${invPort}`, 'migration', 'inventory');
    proxies.push(invProxy);
    const schedProxy = await startHoldProxy(schedulerV1.SchedulerServiceService, `127.0.0.1:${schedPort}`, 'migration', 'scheduler');
    proxies.push(schedProxy);
    envs.migration = {
      DATABASE_URL: migDb.url,
      NATS_PREFIX: prefix,
      INVENTORY_ADDR: invProxy.address,
      SCHEDULER_ADDR: schedProxy.address,
      EXECUTOR_ADDR: `127.0.0.1:${exPort}`,
      MIGRATION_RETRY_BACKOFF: '100ms',
      MIGRATION_SWEEP_INTERVAL: '300ms',
      // Short, so the watchdog's cases end quickly; longer than the executor's start window.
      MIGRATION_EXECUTOR_SILENCE: '8s',
    };
    for (const r of await Promise.allSettled([start('scheduler'), start('executor'), start('migration')]))
      if (r.status === 'rejected') throw r.reason;
    inv = createClient(inventoryV1.InventoryServiceClient, `127.0.0.1:${invPort}`);
    client = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${migPort}`);
    exClient = createClient(executorV1.ExecutorServiceClient, `127.0.0.1:${exPort}`);
    await registerSimHosts(inv, hosts, options.pools, options.cpus);
    const sched = createClient(schedulerV1.SchedulerServiceClient, `127.0.0.1:${schedPort}`);
    const schedulerSeesHosts = async (): Promise<void> =>
      void (await eventually(
        async () => {
          const r = await callUnary(sched, 'score', {
            vm: modelV1.VmSpec.fromPartial({ vcpus: 1, memoryBytes: 64 * 1024 ** 2 }),
            excludedHosts: [],
            limit: 0,
            vmId: '',
          }).catch(() => undefined);
          return r !== undefined && r.hostsConsidered >= hosts.length;
        },
        `the scheduler to consider all ${hosts.length} hosts`,
        60_000,
        250,
      ));
    await schedulerSeesHosts();
    const invC = inv;
    const getVm = async (vmId: string): Promise<inventoryV1.Vm> => (await callUnary(invC, 'getVm', { vmId })).vm!;
    const migC = client;
    const exC = exClient;
    const claimsOf = async (hostId: string): Promise<string[]> =>
      ((await callUnary(invC, 'getHost', { hostId })).host?.claims ?? []).map((c) => c.vmId);
    const hostDomains = async (hostId: string): Promise<{ vmId: string; state: string }[]> =>
      (await daemon.sim.driver(`sim://${hostId}`).listDomains()).map((d) => ({ vmId: d.vmId ?? d.name, state: d.state }));
    return {
      sim: daemon.sim,
      hosts,
      hold: {
        arm(p) {
          const { proxy, method } = HELD[p.call];
          return (proxy === 'inventory' ? invProxy : schedProxy).arm({
            method,
            when: p.when,
            matches: (r) => r['vmId'] === p.vmId && (p.also?.(r) ?? true),
          });
        },
        proceedAll() {
          invProxy.proceedAll();
          schedProxy.proceedAll();
        },
      },
      inv: invC,
      client: migC,
      migrationAddress: `127.0.0.1:${migPort}`,
      dbs: { inventory: invDb, executor: exDb, migration: migDb },
      async crash(which) {
        const victims = which.flatMap((t) => {
          const h = running[t];
          delete running[t];
          return h ? [h] : [];
        });
        await Promise.all(victims.map((h) => h.kill()));
        // A held call whose caller or callee is dead fails; one between two live processes goes on.
        const dead = (t: CrashTarget): boolean => which.includes(t);
        if (dead('migration') || dead('inventory')) invProxy.releaseAll();
        else invProxy.proceedAll();
        if (dead('migration') || dead('scheduler')) schedProxy.releaseAll();
        else schedProxy.proceedAll();
      },
      freeze(t) {
        signal(t, 'SIGSTOP');
      },
      thaw(t) {
        signal(t, 'SIGCONT');
      },
      exitedOnTheirOwn: () => [...exitedOnTheirOwn],
      async restart() {
        const down = (['inventory', 'scheduler', 'executor', 'migration'] as const).filter((t) => running[t] === undefined);
        // Every start settled before a failure is thrown: the ones that came up are in `running`, so stop() ends them.
        const started = await Promise.allSettled(down.map(start));
        for (const r of started) if (r.status === 'rejected') throw r.reason;
        if (down.includes('inventory') || down.includes('scheduler')) await schedulerSeesHosts();
      },
      getVm,
      async migration(migrationId) {
        return (await callUnary(migC, 'getMigration', { migrationId })).migration!;
      },
      runtime: (vmId) => callUnary(exC, 'getVmRuntime', { vmId }),
      async dropEvents(stream, type, vmId) {
        const nc = await connectTestNats();
        try {
          const jsm = await jetstreamManager(nc);
          const name = `${prefix.toUpperCase()}_${stream}`;
          const info = await jsm.streams.info(name);
          let dropped = 0;
          for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
            const m = await jsm.streams.getMessage(name, { seq }).catch(() => null);
            if (!m?.subject.endsWith(`.${type}`)) continue;
            const data = m.json<{ data?: { vmId?: string } }>();
            if (data.data?.vmId === vmId && (await jsm.streams.deleteMessage(name, seq))) dropped++;
          }
          return dropped;
        } finally {
          await nc.close();
        }
      },
      async compose(vmId, o = {}) {
        await callUnary(invC, 'composeVm', {
          meta: { commandId: `compose-${vmId}` },
          vmId,
          spec: modelV1.VmSpec.fromPartial({
            name: vmId,
            // One vCPU: every case's VM (never deleted) and a migration's second claim fit the three hosts.
            vcpus: o.vcpus ?? 1,
            memoryBytes: 2 * GiB,
            migrationMode: o.mode ?? modelV1.MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC,
            ...(o.pool !== undefined && { resourcePool: o.pool }),
          }),
        });
        await eventually(async () => (await getVm(vmId)).status === inventoryV1.VmStatus.VM_STATUS_RUNNING, `${vmId} running`, 60_000, 200);
        if (!o.stopped) return;
        await callUnary(invC, 'stopVm', { meta: { commandId: `stop-${vmId}` }, vmId, force: true });
        await eventually(async () => (await getVm(vmId)).status === inventoryV1.VmStatus.VM_STATUS_STOPPED, `${vmId} stopped`, 60_000, 200);
      },
      claimsOf,
      async hostState(hostId) {
        return (await callUnary(invC, 'getHost', { hostId })).host!.state;
      },
      async setHostState(hostId, state, commandId) {
        await callUnary(invC, 'setHostState', { meta: { commandId }, hostId, state, reason: 'crash table' });
      },
      async domains(vmId) {
        const out: { hostId: string; state: string }[] = [];
        for (const h of hosts) {
          const state = await daemon.sim.driver(`sim://${h}`).state(vmId);
          if (state !== undefined) out.push({ hostId: h, state });
        }
        return out;
      },
      hostDomains,
      violations(vmIds, stopped) {
        return fleetViolations(
          {
            hosts,
            dbs: { inventory: invDb, migration: migDb },
            getVm,
            claimsOf,
            runtime: (v) => callUnary(exC, 'getVmRuntime', { vmId: v }),
            hostDomains,
          },
          vmIds,
          stopped ? { stopped } : {},
        );
      },
      startMillis: () => startMillis,
      exitsBeforeServing: () => exitsBeforeServing,
      logs: () => logs,
      async stop() {
        sched.close();
        await stop();
      },
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
