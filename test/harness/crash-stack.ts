/**
 * The migration crash tests' stack: inventory and the scheduler as processes; the placement executor
 * and the migration service in this process on one shared `SimulatorFleet` (the hypervisors, whose
 * domains and migration jobs outlive a crashed executor as a real host's do), each crashable at any
 * moment (`crash()`: as SIGKILL, nothing drained) and started again on the same database and durables.
 * A `Hold` stops the migration service at a chosen call to inventory or the scheduler (before or after
 * the call went through), so a crash lands on an exact step of the migration.
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { inventoryV1, migrationV1, modelV1, schedulerV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { SimulatorFleet } from '@berth/hypervisor';
import { type InventoryPort, type RunningMigration, type SchedulerPort } from '@berth/migration';
import type { RunningSimExecutor } from '@berth/placement-executor';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  freePort,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import { startService, type ServiceHandle } from './service.ts';
import { registerSimHosts, simFleet, startSimExecutor, startSimMigration } from './sim-services.ts';

const GiB = 1024 ** 3;

export type CrashTarget = 'executor' | 'migration' | 'inventory' | 'scheduler';

export type HeldCall = 'score' | 'beginMigration' | 'completeMigration' | 'abortMigration';

/** Where the migration service is held: the first call of `call` for `vmId`, before or after it went through. */
export interface HoldPoint {
  readonly call: HeldCall;
  readonly when: 'before' | 'after';
  readonly vmId: string;
}

/** Holds the migration service's calls at one point; released (with an error) only by a crash. */
export class Hold {
  private point: HoldPoint | undefined;
  private reachedNow: (() => void) | undefined;
  private readonly held: (() => void)[] = [];

  /** Arms the hold; resolves when a call reached it (and now hangs). */
  arm(point: HoldPoint): Promise<void> {
    this.point = point;
    return new Promise((r) => (this.reachedNow = r));
  }

  /** The held calls fail (their instance crashed); the hold is disarmed. */
  releaseAll(): void {
    this.point = undefined;
    for (const fail of this.held.splice(0)) fail();
  }

  private async at(call: HeldCall, when: 'before' | 'after', vmId: string): Promise<void> {
    const p = this.point;
    if (p?.call !== call || p.when !== when || p.vmId !== vmId) return;
    this.point = undefined;
    this.reachedNow?.();
    await new Promise<void>((_, reject) => this.held.push(() => reject(new Error('held call of a crashed instance'))));
  }

  private wrap<A extends [unknown, ...unknown[]], R>(call: HeldCall, vmIdOf: (first: A[0]) => string, f: (...a: A) => Promise<R>) {
    return async (...a: A): Promise<R> => {
      await this.at(call, 'before', vmIdOf(a[0]));
      const r = await f(...a);
      await this.at(call, 'after', vmIdOf(a[0]));
      return r;
    };
  }

  ports(p: { inventory: InventoryPort; scheduler: SchedulerPort }): { inventory: InventoryPort; scheduler: SchedulerPort } {
    const inv = p.inventory;
    return {
      inventory: {
        getVm: (vmId) => inv.getVm(vmId),
        vmsOn: (hostId) => inv.vmsOn(hostId),
        beginMigration: this.wrap(
          'beginMigration',
          (r) => r.vmId,
          (r) => inv.beginMigration(r),
        ),
        completeMigration: this.wrap(
          'completeMigration',
          (r) => r.vmId,
          (r) => inv.completeMigration(r),
        ),
        abortMigration: this.wrap(
          'abortMigration',
          (r) => r.vmId,
          (r) => inv.abortMigration(r),
        ),
      },
      scheduler: {
        score: this.wrap(
          'score',
          (vm) => vm.vmId,
          (...a: Parameters<SchedulerPort['score']>) => p.scheduler.score(...a),
        ),
      },
    };
  }
}

export interface CrashStack {
  readonly fleet: SimulatorFleet;
  readonly hosts: readonly string[];
  readonly hold: Hold;
  readonly inv: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  executor(): RunningSimExecutor;
  migration(): RunningMigration;
  /** The migration service's client (of the instance running now). */
  client(): InstanceType<typeof migrationV1.MigrationServiceClient>;
  /**
   * Crashes the named services: the executor and the migration service in this process (as SIGKILL:
   * nothing drained), inventory and the scheduler with a real SIGKILL of their processes. A call the
   * migration service is held at fails: its instance, or the process it was talking to, died.
   */
  crash(which: readonly CrashTarget[]): Promise<void>;
  /** Starts whichever of the four is not running (inventory and the scheduler on their old ports). */
  restart(): Promise<void>;
  getVm(vmId: string): Promise<inventoryV1.Vm>;
  /**
   * Deletes from a stream the events of `type` about `vmId` (a message lost for good: the
   * watchdog's case); returns how many.
   */
  dropEvents(stream: 'BERTH_EXECUTOR' | 'BERTH_MIGRATION', type: string, vmId: string): Promise<number>;
  compose(vmId: string): Promise<void>;
  claimsOf(hostId: string): Promise<string[]>;
  /** The hosts whose hypervisor has the VM's domain, with its state. */
  domains(vmId: string): Promise<{ hostId: string; state: string }[]>;
  stop(): Promise<void>;
}

export async function startCrashStack(label: string, hosts: readonly string[]): Promise<CrashStack> {
  const prefix = testSubjectPrefix(label);
  // 1 GiB/s: a 2 GiB guest takes about two seconds to move, long enough to crash in the middle.
  const fleet = simFleet(hosts, GiB);
  const dbs = (await Promise.all(['inv', 'ex', 'mig'].map((s) => createTestDatabase(`${label}_${s}`)))) as [
    TestDatabase,
    TestDatabase,
    TestDatabase,
  ];
  const [invDb, exDb, migDb] = dbs;
  const invEnv = { DATABASE_URL: invDb.url, NATS_PREFIX: prefix };
  let inventory: ServiceHandle | undefined = await startService('inventory', invEnv);
  const inventoryPort = inventory.port;
  const schedEnv = { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address };
  let scheduler: ServiceHandle | undefined = await startService('scheduler', schedEnv);
  const schedulerPort = scheduler.port;
  let processStarts = 0;
  const hold = new Hold();
  // A fixed port, so the migration service's watchdog finds every incarnation of the executor.
  const executorPort = await freePort();
  let starts = 0;
  const startEx = async (): Promise<RunningSimExecutor> =>
    startSimExecutor(fleet, {
      databaseUrl: exDb.url,
      prefix,
      name: `${label}-executor-${++starts}`,
      env: {
        EXECUTOR_GRPC_PORT: String(executorPort),
        EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '2s' }),
        EXECUTOR_MIGRATION_PROGRESS_INTERVAL: '200ms',
        EXECUTOR_MIGRATION_START_WINDOW: '5s',
      },
    });
  const startMig = async (): Promise<RunningMigration> =>
    startSimMigration(
      {
        databaseUrl: migDb.url,
        prefix,
        name: `${label}-migration-${++starts}`,
        inventoryAddr: `127.0.0.1:${inventoryPort}`,
        schedulerAddr: `127.0.0.1:${schedulerPort}`,
        env: {
          EXECUTOR_ADDR: `127.0.0.1:${executorPort}`,
          // Short, so the watchdog's cases end quickly; longer than the executor's start window.
          MIGRATION_EXECUTOR_SILENCE: '8s',
        },
      },
      { wrapPorts: (p) => hold.ports(p) },
    );
  let ex: RunningSimExecutor | undefined = await startEx();
  let mig: RunningMigration | undefined = await startMig();
  let client = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${mig.port}`);
  const inv = createClient(inventoryV1.InventoryServiceClient, `127.0.0.1:${inventoryPort}`);
  await registerSimHosts(inv, hosts);
  const schedulerSeesHosts = async (): Promise<void> => {
    const sched = createClient(schedulerV1.SchedulerServiceClient, `127.0.0.1:${schedulerPort}`);
    try {
      await eventually(
        async () => {
          const r = await callUnary(sched, 'score', {
            vm: modelV1.VmSpec.fromPartial({ vcpus: 1, memoryBytes: 64 * 1024 ** 2 }),
            excludedHosts: [],
            limit: 0,
            vmId: '',
          }).catch(() => undefined);
          return r !== undefined && r.hostsConsidered >= hosts.length;
        },
        `the scheduler to consider all ${hosts.length} hosts again`,
        60_000,
        250,
      );
    } finally {
      sched.close();
    }
  };
  const getVm = async (vmId: string): Promise<inventoryV1.Vm> => (await callUnary(inv, 'getVm', { vmId })).vm!;
  const running = <T>(x: T | undefined, what: string): T => {
    if (x === undefined) throw new Error(`the ${what} is not running (crashed)`);
    return x;
  };
  return {
    fleet,
    hosts,
    hold,
    inv,
    executor: () => running(ex, 'executor'),
    migration: () => running(mig, 'migration service'),
    client: () => client,
    async crash(which) {
      const [e, m] = [which.includes('executor') ? ex : undefined, which.includes('migration') ? mig : undefined];
      if (m) {
        mig = undefined;
        client.close();
        await m.crash();
        hold.releaseAll();
      }
      if (e) {
        ex = undefined;
        await e.crash();
      }
      const [i, sc] = [which.includes('inventory') ? inventory : undefined, which.includes('scheduler') ? scheduler : undefined];
      if (i) {
        inventory = undefined;
        await i.kill();
      }
      if (sc) {
        scheduler = undefined;
        await sc.kill();
      }
      // The answer of a held call to a killed process is lost with it.
      if (i || sc) hold.releaseAll();
    },
    async restart() {
      const planeRestarted = inventory === undefined || scheduler === undefined;
      inventory ??= await startService('inventory', invEnv, { port: inventoryPort, label: `inventory-${++processStarts}` });
      scheduler ??= await startService('scheduler', schedEnv, { port: schedulerPort, label: `scheduler-${++processStarts}` });
      // SERVING is not yet seeing the fleet: wait until the scheduler considers every host again, as at start-up.
      if (planeRestarted) await schedulerSeesHosts();
      ex ??= await startEx();
      if (mig === undefined) {
        mig = await startMig();
        client = createClient(migrationV1.MigrationServiceClient, `127.0.0.1:${mig.port}`);
      }
    },
    getVm,
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
    async compose(vmId) {
      await callUnary(inv, 'composeVm', {
        meta: { commandId: `compose-${vmId}` },
        vmId,
        spec: modelV1.VmSpec.fromPartial({
          name: vmId,
          // One vCPU: the 21 cases' VMs (never deleted) and a migration's second claim fit the three hosts.
          vcpus: 1,
          memoryBytes: 2 * GiB,
          migrationMode: modelV1.MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC,
        }),
      });
      const until = Date.now() + 60_000;
      while ((await getVm(vmId)).status !== inventoryV1.VmStatus.VM_STATUS_RUNNING) {
        if (Date.now() > until) throw new Error(`${vmId} did not reach running`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async claimsOf(hostId) {
      return ((await callUnary(inv, 'getHost', { hostId })).host?.claims ?? []).map((c) => c.vmId);
    },
    async domains(vmId) {
      const out: { hostId: string; state: string }[] = [];
      for (const h of hosts) {
        const state = await fleet.driver(`sim://${h}`).state(vmId);
        if (state !== undefined) out.push({ hostId: h, state });
      }
      return out;
    },
    async stop() {
      inv.close();
      client.close();
      hold.releaseAll();
      await mig?.stop();
      await ex?.stop();
      await Promise.all([scheduler?.stop(), inventory?.stop()]);
      await deletePrefixedStreams(prefix).catch(() => undefined);
      await Promise.all(dbs.map((d) => d.drop()));
    },
  };
}
