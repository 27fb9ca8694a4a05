/**
 * bench:migration:services — maintenance evacuation through the real services: inventory, scheduler,
 * placement-executor (its simulator, EXECUTOR_SIMULATOR=on) and migration each run as their own
 * process, on fresh Postgres databases and one NATS prefix (scripts/with-infra.ts: a private
 * nats-server >= 2.12.3 when the machine's is older). Simulator hosts are registered through gRPC,
 * VMs composed through ComposeVm: first `--plan-vms` on one host (`plan-00`, whose evacuation is
 * planned through gRPC `--plans` times, never run), then `--per-host` on each of the `--drain` hosts,
 * then `--background` over the rest of the fleet. The drained hosts are put in maintenance with
 * StartEvacuation at once, with the default caps (5 per fleet, 2 out of and 2 into each host).
 *
 * Measures
 * - plan: PlanEvacuation of a loaded host as a client sees it (`planRpcMillis`), and the service's
 *   own figures for every plan (its `evacuation planned` debug lines: `readMillis` = fleet view, one
 *   ListVms of the host and the drain's state; `planMillis` = planEvacuation), for the full plans
 *   asked through gRPC and for the passes of the drains;
 * - drain: per host from its EvacuationStarted to its EvacuationCompleted (the migration log);
 * - migrations at once: the largest overlap of [MigrationRequested, its end] in the migration log,
 *   fleet-wide and per host in and out (each interval lies inside the slot the admission gate held);
 * - capUtilisation: the share of the drain during which the fleet cap was full (by those intervals)
 *   while a drained host still had VMs not yet started;
 * - the audit: VMs with no domain on any simulated hypervisor (`lost`, the executor's ListDomains),
 *   on two (`duplicated`), on another host than inventory says (`misplaced`), hosts whose claims
 *   exceed their capacity (`overcommitted`, the final snapshots), VMs with claims on two hosts
 *   (`leakedClaims`), drained hosts not in MAINTENANCE.
 * Prints figures; the last line is one JSON object.
 *
 *   npm run bench:migration:services -- [--hosts 24] [--plan-vms 100] [--drain 4] [--per-host 25]
 *     [--background 200] [--plans 20] [--concurrency 32] [--timeout 240] [--drain-vm-mib 256,512]
 *
 * VMs have 256 or 512 MiB by default, so that a simulated live migration (1 GiB/s) takes 0.25-0.5 s:
 * the drain then measures Berth's pipeline and the caps, not simulated copying. `--drain-vm-mib` gives
 * the drained hosts' VMs other sizes (MiB, taken in turn), e.g. `2048,4096,6144,8192` for moves of 2-8 s
 * as real guests of a few GiB take (with fewer VMs per host, `--per-host 10`, to keep the drain under a
 * minute).
 */
import { loadavg } from 'node:os';
import { performance } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { executorV1, inventoryV1, migrationV1, modelV1, schedulerV1 } from '@berth/contracts';
import { allocatableVcpus, ordinaryMemoryCapacity, usage, type HostSnapshot } from '@berth/fit';
import { callUnary, createClient } from '@berth/grpc-kit';
import { openKv } from '@berth/messaging';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  freePort,
  natsUrl,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import { startService, stopAll } from '../harness/service.ts';
import { mapLimit } from '../harness/wait.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '24' },
    drain: { type: 'string', default: '4' },
    'plan-vms': { type: 'string', default: '100' },
    'per-host': { type: 'string', default: '25' },
    background: { type: 'string', default: '200' },
    plans: { type: 'string', default: '20' },
    concurrency: { type: 'string', default: '32' },
    timeout: { type: 'string', default: '240' },
    'drain-vm-mib': { type: 'string', default: '256,512' },
  },
  strict: true,
});
function whole(name: string, min: number): number {
  const n = Number(args[name as keyof typeof args]);
  if (!Number.isInteger(n) || n < min)
    throw new Error(`--${name}: must be a whole number >= ${min}, got "${String(args[name as keyof typeof args])}"`);
  return n;
}
const HOSTS = whole('hosts', 2);
const DRAIN = whole('drain', 1);
const PLAN_VMS = whole('plan-vms', 1);
const PER_HOST = whole('per-host', 1);
const BACKGROUND = whole('background', 0);
const PLANS = whole('plans', 1);
const CONCURRENCY = whole('concurrency', 1);
const TIMEOUT_MILLIS = whole('timeout', 10) * 1000;
const DRAIN_VM_MIB = String(args['drain-vm-mib'])
  .split(',')
  .map((x) => {
    const n = Number(x.trim());
    if (!Number.isInteger(n) || n < 64) throw new Error(`--drain-vm-mib: a comma-separated list of whole MiB >= 64, got "${x}"`);
    return n;
  });
if (DRAIN + 1 >= HOSTS) throw new Error('--drain: must be below --hosts - 1 (a planned host, and destinations for the drained ones)');
const CAPS = { fleet: 5, outboundPerHost: 2, inboundPerHost: 2 };
// Room for the drained hosts' VMs (1-2 vCPUs, up to 512 MiB or the largest --drain-vm-mib) with slack; the
// other hosts are the same size.
const HOST_CPUS = Math.max(32, Math.max(PLAN_VMS, PER_HOST) * 2);
const HOST_MEMORY =
  Math.max(16, Math.ceil((Math.max(PLAN_VMS * 512 * MiB, PER_HOST * Math.max(512, ...DRAIN_VM_MIB) * MiB) * 1.5) / GiB)) * GiB;

const started = performance.now();
const seconds = (): string => ((performance.now() - started) / 1000).toFixed(1);
const say = (line: string): void => console.error(`[${seconds()} s] ${line}`);
const quantile = (xs: readonly number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};
const round = (x: number, digits = 2): number => +x.toFixed(digits);
const load = (): number => round(loadavg()[0]!, 1);

type InventoryClient = InstanceType<typeof inventoryV1.InventoryServiceClient>;

async function register(inv: InventoryClient, hostIds: readonly string[]): Promise<void> {
  await mapLimit(hostIds, 8, (hostId) =>
    callUnary(inv, 'registerHost', {
      meta: { commandId: `register-${hostId}` },
      hostId,
      spec: modelV1.HostSpec.fromPartial({
        name: hostId,
        hypervisorUri: `sim://${hostId}`,
        cpuModel: 'Cascadelake-Server',
        topology: { sockets: 1, coresPerSocket: HOST_CPUS, threadsPerCore: 1 },
        cpus: HOST_CPUS,
        memoryBytes: HOST_MEMORY,
      }),
      state: modelV1.HostState.HOST_STATE_ENABLED,
    }),
  );
}

async function compose(inv: InventoryClient, vmIds: readonly string[], mib: readonly number[] = [256, 512]): Promise<void> {
  await mapLimit(vmIds, CONCURRENCY, (vmId, i) =>
    callUnary(inv, 'composeVm', {
      meta: { commandId: `compose-${vmId}` },
      vmId,
      spec: modelV1.VmSpec.fromPartial({
        name: vmId,
        vcpus: i % 3 === 2 ? 2 : 1,
        memoryBytes: mib[i % mib.length]! * MiB,
        priority: i % 5 === 0 ? 10 : 0,
        migrationMode: modelV1.MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC,
      }),
    }),
  );
}

/** Waits until inventory lists `count` VMs running (none failed: a failure stops the run). */
async function running(inv: InventoryClient, count: number, what: string): Promise<inventoryV1.Vm[]> {
  return eventually(
    async () => {
      const vms = (await callUnary(inv, 'listVms', inventoryV1.ListVmsRequest.fromPartial({}))).vms;
      const failed = vms.filter(
        (v) => v.status === inventoryV1.VmStatus.VM_STATUS_PLACEMENT_FAILED || v.status === inventoryV1.VmStatus.VM_STATUS_PROVISION_FAILED,
      );
      if (failed.length > 0) throw new Error(`${failed.length} VMs failed, e.g. ${failed[0]!.vmId}: ${failed[0]!.failureReason}`);
      const up = vms.filter((v) => v.status === inventoryV1.VmStatus.VM_STATUS_RUNNING && v.migrationId === '');
      return up.length >= count ? vms : undefined;
    },
    what,
    TIMEOUT_MILLIS,
    500,
  );
}

interface Row {
  stream_id: string;
  type: string;
  data: Record<string, unknown>;
  at: number;
}

/** The events of these types in a service's log, in log order (occurred_at: the appending transaction's start). */
async function eventsOf(db: TestDatabase, types: readonly string[]): Promise<Row[]> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const found = await c.query<{ table_schema: string }>(
      "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' ORDER BY table_schema = 'public' LIMIT 1",
    );
    const schema = found.rows[0]!.table_schema;
    const r = await c.query<{ stream_id: string; type: string; data: Record<string, unknown>; at: Date }>(
      `SELECT stream_id, type, data, occurred_at AS at FROM "${schema}".events WHERE type = ANY($1) ORDER BY global_position`,
      [types],
    );
    return r.rows.map((x) => ({ stream_id: x.stream_id, type: x.type, data: x.data, at: x.at.getTime() }));
  } finally {
    await c.end();
  }
}

/** A migration's steps in its log, in order: each step's time is from the previous event's to its own. */
const STEPS = [
  ['choose', 'DestinationChosen'],
  ['claim', 'DestinationClaimed'],
  ['executorStart', 'MigrationCopyStarted'],
  ['migrate', 'SwitchedOver'],
  ['releaseSource', 'SourceReleased'],
  ['complete', 'MigrationCompleted'],
] as const;
const MIGRATION_TYPES = ['MigrationRequested', 'AttemptFailed', 'MigrationFailed', 'MigrationAborted', ...STEPS.map(([, t]) => t)];

type Quantiles = { p50: number; p99: number };
const quantiles = (xs: readonly number[]): Quantiles => ({ p50: round(quantile(xs, 0.5)), p99: round(quantile(xs, 0.99)) });

/**
 * Where a completed move's time goes, per step, from the events' timestamps: the migration log's
 * (MigrationRequested -> DestinationChosen -> ... -> MigrationCompleted; the first of each type, so a
 * choice made again within an attempt counts in its step), and the executor's own log split the two
 * hops through it: `executorStart` = `toExecutor` (DestinationClaimed in the migration log to the
 * executor's VmMigrationStarted: relay, NATS, the executor's consumer and its append) + `startReported`
 * (back: its relay, NATS, this service's consumer and append); `migrate` = `hypervisor` (the executor's
 * VmMigrationStarted to its VmMigrated: the simulated copy and the executor's own steps) +
 * `switchReported`. Moves whose attempt failed once are left out (their steps hold the failure).
 */
function stepTimes(rows: readonly Row[], executorRows: readonly Row[]): Record<string, Quantiles & { moves?: number }> {
  const first = new Map<string, Map<string, number>>();
  for (const r of rows) {
    const m = first.get(r.stream_id) ?? first.set(r.stream_id, new Map()).get(r.stream_id)!;
    if (!m.has(r.type)) m.set(r.type, r.at);
  }
  const executor = new Map<string, Map<string, number>>();
  for (const r of executorRows) {
    const id = typeof r.data['migrationId'] === 'string' ? r.data['migrationId'] : '';
    const m = executor.get(id) ?? executor.set(id, new Map()).get(id)!;
    if (!m.has(r.type)) m.set(r.type, r.at);
  }
  const out: Record<string, number[]> = {};
  const add = (k: string, v: number | undefined): void => void (v !== undefined && Number.isFinite(v) && (out[k] ??= []).push(v));
  let moves = 0;
  for (const [streamId, m] of first) {
    if (!m.has('MigrationCompleted') || m.has('AttemptFailed')) continue;
    moves++;
    let previous = m.get('MigrationRequested')!;
    for (const [step, type] of STEPS) {
      const at = m.get(type);
      if (at === undefined) continue;
      add(step, at - previous);
      previous = at;
    }
    add('total', m.get('MigrationCompleted')! - m.get('MigrationRequested')!);
    const ex = executor.get(streamId.replace(/^migration-/, ''));
    const started = ex?.get('VmMigrationStarted');
    const migrated = ex?.get('VmMigrated');
    if (started !== undefined) {
      add('toExecutor', started - m.get('DestinationClaimed')!);
      add('startReported', m.get('MigrationCopyStarted')! - started);
    }
    if (started !== undefined && migrated !== undefined) {
      add('hypervisor', migrated - started);
      add('switchReported', m.get('SwitchedOver')! - migrated);
    }
  }
  const result: Record<string, Quantiles & { moves?: number }> = {};
  for (const [k, xs] of Object.entries(out)) result[k] = k === 'total' ? { ...quantiles(xs), moves } : quantiles(xs);
  return result;
}

interface Interval {
  readonly vmId: string;
  readonly source: string;
  destination: string;
  readonly from: number;
  to: number;
  outcome: string;
}

/** Largest number of intervals open at once (an end at the same instant as a start closes first). */
function maxOverlap(xs: readonly Interval[]): number {
  const points = xs.flatMap((x) => [
    { t: x.from, d: 1 },
    { t: x.to, d: -1 },
  ]);
  points.sort((a, b) => a.t - b.t || a.d - b.d);
  let open = 0;
  let max = 0;
  for (const p of points) max = Math.max(max, (open += p.d));
  return max;
}

async function main(): Promise<void> {
  const prefix = testSubjectPrefix('benchmig');
  const dbs = (await Promise.all(['inv', 'ex', 'mig'].map((s) => createTestDatabase(`benchmig_${s}`)))) as [
    TestDatabase,
    TestDatabase,
    TestDatabase,
  ];
  const [invDb, exDb, migDb] = dbs;
  const nc = await connectTestNats();
  const clients: { close(): void }[] = [];
  try {
    // Ports first, so that the four start side by side (each service connects to the others lazily).
    const [invPort, schedPort, exPort, migPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const at = (port: number): string => `127.0.0.1:${port}`;
    const one = { singleProcess: true, readyTimeoutMillis: 300_000 };
    const [inventory, , executor, migration] = await Promise.all([
      startService('inventory', { DATABASE_URL: invDb.url, NATS_PREFIX: prefix }, { ...one, port: invPort }),
      // spread: the staged composition below relies on new (empty) hosts taking the next VMs.
      startService(
        'scheduler',
        { NATS_PREFIX: prefix, INVENTORY_ADDR: at(invPort), SCHEDULER_POLICY: 'spread' },
        { ...one, port: schedPort },
      ),
      startService(
        'placement-executor',
        {
          DATABASE_URL: exDb.url,
          NATS_PREFIX: prefix,
          EXECUTOR_SIMULATOR: 'on',
          EXECUTOR_SAMPLE_INTERVAL: '0s',
          EXECUTOR_MIGRATION_PROGRESS_INTERVAL: '1s',
        },
        { ...one, port: exPort },
      ),
      startService(
        'migration',
        {
          DATABASE_URL: migDb.url,
          NATS_PREFIX: prefix,
          INVENTORY_ADDR: at(invPort),
          SCHEDULER_ADDR: at(schedPort),
          EXECUTOR_ADDR: at(exPort),
          LOG_LEVEL: 'debug',
          MIGRATION_EVACUATION_RETRY: '2s',
          MIGRATION_SWEEP_INTERVAL: '500ms',
          MIGRATION_RETRY_BACKOFF: '500ms',
          MIGRATION_MAX_PER_FLEET: String(CAPS.fleet),
          MIGRATION_MAX_OUTBOUND_PER_HOST: String(CAPS.outboundPerHost),
          MIGRATION_MAX_INBOUND_PER_HOST: String(CAPS.inboundPerHost),
        },
        { ...one, port: migPort },
      ),
    ]);
    const inv = createClient(inventoryV1.InventoryServiceClient, inventory.address, { deadlineMillis: 60_000 });
    const mig = createClient(migrationV1.MigrationServiceClient, migration.address, { deadlineMillis: 60_000 });
    const exe = createClient(executorV1.ExecutorServiceClient, executor.address, { deadlineMillis: 60_000 });
    const sched = createClient(schedulerV1.SchedulerServiceClient, at(schedPort), { deadlineMillis: 60_000 });
    clients.push(inv, mig, exe, sched);
    say(`services up (prefix ${prefix}, load ${load()})`);

    // The planned host first, alone, with its VMs; then each drained host, alone (the hosts before it
    // in NO_SCHEDULING meanwhile); then the rest of the fleet with its VMs (the hosts before it closed
    // meanwhile), and every host enabled again.
    const target = 'plan-00';
    const drained = Array.from({ length: DRAIN }, (_, i) => `drain-${String(i).padStart(2, '0')}`);
    const others = Array.from({ length: HOSTS - DRAIN - 1 }, (_, i) => `host-${String(i).padStart(3, '0')}`);
    const probe = schedulerV1.ScoreRequest.fromPartial({
      vm: modelV1.VmSpec.fromPartial({ name: 'probe', vcpus: 1, memoryBytes: 256 * MiB }),
      limit: HOSTS,
    });
    const snapshots = await openKv(nc, 'berth-host-snapshots', { prefix });
    const setState = (hostIds: readonly string[], state: modelV1.HostState, step: string): Promise<unknown> =>
      mapLimit(hostIds, 8, (hostId) =>
        callUnary(inv, 'setHostState', { meta: { commandId: `${step}-${hostId}` }, hostId, state, reason: 'bench' }),
      );
    let total = 0;
    const stage = async (
      hosts: readonly string[],
      vmIds: readonly string[],
      closed: readonly string[],
      what: string,
      mib?: readonly number[],
    ): Promise<inventoryV1.Vm[]> => {
      await setState(closed, modelV1.HostState.HOST_STATE_NO_SCHEDULING, `close-${what.replace(/\W+/g, '-')}`);
      await register(inv, hosts);
      // Until the scheduler's view (it follows the snapshot bucket) ranks exactly these hosts for a VM.
      await eventually(
        async () => {
          const ranked = (await callUnary(sched, 'score', probe)).hosts.map((h) => h.hostId);
          return ranked.length === hosts.length && ranked.every((h) => hosts.includes(h)) ? true : undefined;
        },
        `${what}: the scheduler to rank only its hosts`,
        60_000,
        250,
      );
      await compose(inv, vmIds, mib);
      total += vmIds.length;
      const vms = await running(inv, total, `${what}: ${total} VMs running`);
      say(`${what}: ${vmIds.length} VMs composed, ${total} running (load ${load()})`);
      return vms;
    };
    const planVms = Array.from({ length: PLAN_VMS }, (_, i) => `plan-${String(i).padStart(5, '0')}`);
    const loaded = Array.from({ length: DRAIN * PER_HOST }, (_, i) => `vm-${String(i).padStart(5, '0')}`);
    const background = Array.from({ length: BACKGROUND }, (_, i) => `bg-${String(i).padStart(5, '0')}`);
    await stage([target], planVms, [], 'the planned host');
    // One drained host at a time, so each holds exactly --per-host (spread shares VMs out over every open host).
    for (let d = 0; d < DRAIN; d++) {
      await stage(
        [drained[d]!],
        loaded.slice(d * PER_HOST, (d + 1) * PER_HOST),
        [target, ...drained.slice(0, d)],
        `drained host ${d + 1}`,
        DRAIN_VM_MIB,
      );
    }
    const before = await stage(others, background, [target, ...drained], 'the rest of the fleet');
    await setState([target, ...drained], modelV1.HostState.HOST_STATE_ENABLED, 'open');
    const onHost = new Map<string, number>();
    for (const v of before) onHost.set(v.hostId, (onHost.get(v.hostId) ?? 0) + 1);
    say(
      `${before.length} VMs running on ${HOSTS} hosts; drained hosts hold ${drained.map((h) => onHost.get(h) ?? 0).join(', ')} (load ${load()})`,
    );

    // The plan of a loaded host through gRPC, as `berth hosts drain --dry-run` asks it. The service's
    // fleet view follows the snapshot bucket: wait until it sees every VM of the host.
    const expected = onHost.get(target) ?? 0;
    await eventually(
      async () => {
        const p = (await callUnary(mig, 'planEvacuation', { hostId: target })).plan!;
        return p.moves.length === expected ? p : undefined;
      },
      `the plan of ${target} to move its ${expected} VMs`,
      60_000,
      250,
    );
    const logsBefore = migration.jsonLogs().length;
    const planRpc: number[] = [];
    for (let i = 0; i < PLANS; i++) {
      const t = performance.now();
      const p = (await callUnary(mig, 'planEvacuation', { hostId: target })).plan!;
      planRpc.push(performance.now() - t);
      if (p.moves.length !== expected) throw new Error(`the plan of ${target} moved ${p.moves.length} of ${expected}`);
    }
    const planned = (from: number, to?: number) =>
      migration
        .jsonLogs()
        .slice(from, to)
        .filter((l) => l['msg'] === 'evacuation planned') as unknown as {
        hostId: string;
        vms: number;
        moves: number;
        readMillis: number;
        planMillis: number;
      }[];
    const rpcFigures = planned(logsBefore).filter((f) => f.hostId === target);
    const logsAtDrain = migration.jsonLogs().length;
    const loadAtPlan = load();
    say(
      `PlanEvacuation of ${target} (${expected} VMs) x${PLANS}: p50 ${round(quantile(planRpc, 0.5))} / p99 ${round(quantile(planRpc, 0.99))} ms`,
    );

    // Every drained host into maintenance at once, through gRPC.
    const drainStart = performance.now();
    await Promise.all(
      drained.map((hostId) => callUnary(mig, 'startEvacuation', { meta: { commandId: `drain-${hostId}` }, hostId, reason: 'bench' })),
    );
    const ended = await eventually(
      async () => {
        const es = await Promise.all(drained.map((hostId) => callUnary(mig, 'getEvacuation', { hostId }).then((r) => r.evacuation!)));
        return es.every((e) => e.status === 'completed' || e.status === 'cancelled') ? es : undefined;
      },
      'every drain to complete',
      TIMEOUT_MILLIS,
      250,
    );
    const drainWall = (performance.now() - drainStart) / 1000;
    const loadAtDrain = load();
    say(`drains ended in ${round(drainWall, 1)} s: ${ended.map((e) => `${e.hostId} ${e.status}`).join(', ')} (load ${loadAtDrain})`);
    const passFigures = planned(logsAtDrain).filter((f) => drained.includes(f.hostId));

    // The migration log: drain times, intervals, overlaps, cap use.
    const rows = await eventsOf(migDb, [...MIGRATION_TYPES, 'EvacuationStarted', 'EvacuationCompleted']);
    const executorRows = await eventsOf(exDb, ['VmMigrationStarted', 'VmMigrated']);
    const drainFrom = new Map<string, number>();
    const drainTo = new Map<string, number>();
    const intervals = new Map<string, Interval>();
    for (const r of rows) {
      if (r.type === 'EvacuationStarted') drainFrom.set(r.stream_id.replace(/^evacuation-/, ''), r.at);
      else if (r.type === 'EvacuationCompleted') drainTo.set(r.stream_id.replace(/^evacuation-/, ''), r.at);
      else if (r.type === 'MigrationRequested') {
        intervals.set(r.stream_id, {
          vmId: String(r.data['vmId']),
          source: String(r.data['sourceHostId']),
          destination: '',
          from: r.at,
          to: Number.POSITIVE_INFINITY,
          outcome: 'running',
        });
      } else {
        const m = intervals.get(r.stream_id);
        if (!m) continue;
        if (r.type === 'DestinationClaimed') m.destination = String(r.data['hostId']);
        else if (r.type === 'MigrationCompleted' || r.type === 'MigrationFailed' || r.type === 'MigrationAborted') {
          m.to = r.at;
          m.outcome = r.type;
        }
      }
    }
    const moves = [...intervals.values()];
    const unfinished = moves.filter((m) => m.to === Number.POSITIVE_INFINITY).length;
    const perHostOut = Math.max(0, ...drained.map((h) => maxOverlap(moves.filter((m) => m.source === h))));
    const destinations = [...new Set(moves.map((m) => m.destination).filter((d) => d !== ''))];
    const perHostIn = Math.max(0, ...destinations.map((h) => maxOverlap(moves.filter((m) => m.destination === h))));
    const fleetMax = maxOverlap(moves);
    // Cap use: sweep the drain, time-weighted; "waiting" = some drained host still has VMs whose move has not started.
    const toMove = new Map<string, Set<string>>();
    for (const m of moves) (toMove.get(m.source) ?? toMove.set(m.source, new Set()).get(m.source)!).add(m.vmId);
    const t0 = Math.min(...drainFrom.values());
    const t1 = Math.max(...drainTo.values(), ...moves.map((m) => (Number.isFinite(m.to) ? m.to : 0)));
    const edges = [...new Set([t0, t1, ...moves.flatMap((m) => [m.from, m.to])])].filter((t) => t >= t0 && t <= t1).sort((a, b) => a - b);
    let waitingTime = 0;
    let fullTime = 0;
    for (let i = 0; i + 1 < edges.length; i++) {
      const a = edges[i]!;
      const b = edges[i + 1]!;
      const open = moves.filter((m) => m.from <= a && m.to > a).length;
      const waiting = [...toMove].some(([source, vms]) => {
        const startedByNow = new Set(moves.filter((m) => m.source === source && m.from <= a).map((m) => m.vmId));
        return startedByNow.size < vms.size;
      });
      if (!waiting) continue;
      waitingTime += b - a;
      if (open >= CAPS.fleet) fullTime += b - a;
    }
    const drainSeconds = drained.map((h) => ((drainTo.get(h) ?? t1) - (drainFrom.get(h) ?? t0)) / 1000);
    // A slot's hand-over: from a move's end with the fleet cap full and VMs still to start, to the next
    // MigrationRequested (ends and starts paired in time order): Berth's reaction to a freed slot.
    const handover: number[] = [];
    const freed: number[] = [];
    const points = moves
      .flatMap((m) => [{ t: m.from, start: true }, ...(Number.isFinite(m.to) ? [{ t: m.to, start: false }] : [])])
      .sort((a, b) => a.t - b.t || Number(a.start) - Number(b.start));
    for (const p of points) {
      if (p.start) {
        const end = freed.shift();
        if (end !== undefined) handover.push(p.t - end);
        continue;
      }
      const openBefore = moves.filter((m) => m.from <= p.t && m.to >= p.t).length;
      const waits = [...toMove].some(
        ([source, vms]) => new Set(moves.filter((m) => m.source === source && m.from <= p.t).map((m) => m.vmId)).size < vms.size,
      );
      if (openBefore >= CAPS.fleet && waits) freed.push(p.t);
    }
    const mean = (xs: readonly number[]): number => (xs.length === 0 ? 0 : round(xs.reduce((a, b) => a + b, 0) / xs.length));
    const stepMillis = {
      ...stepTimes(rows, executorRows),
      handover: { ...quantiles(handover), mean: mean(handover), count: handover.length },
    };

    // The audit: hypervisors (the executor's simulator), inventory's VMs, the final snapshots.
    const after = (await callUnary(inv, 'listVms', inventoryV1.ListVmsRequest.fromPartial({}))).vms;
    const where = new Map<string, string[]>();
    const hostIds = [target, ...drained, ...others];
    for (const hostId of hostIds) {
      for (const d of (await callUnary(exe, 'listDomains', { hostId })).domains) {
        if (d.vmId !== '') where.set(d.vmId, [...(where.get(d.vmId) ?? []), hostId]);
      }
    }
    let lost = 0;
    let duplicated = 0;
    let misplaced = 0;
    // ListVms answers from inventory's read model, which may lag its log (by ~200 ms: it lingers between
    // batches) right after the drains complete: a VM it lists elsewhere than its domain runs is read again
    // with GetVm (the log). `misplaced` counts those the log has elsewhere too; `readModelBehind` the others.
    let readModelBehind = 0;
    for (const v of after) {
      const hs = where.get(v.vmId) ?? [];
      if (hs.length === 0) lost++;
      if (hs.length > 1) duplicated++;
      if (hs.length === 1 && hs[0] !== v.hostId) {
        const now = (await callUnary(inv, 'getVm', { vmId: v.vmId })).vm!;
        if (now.hostId === hs[0]) readModelBehind++;
        else misplaced++;
      }
    }
    let overcommitted = 0;
    const claimsOf = new Map<string, number>();
    let inMaintenance = 0;
    for (const hostId of hostIds) {
      const s = (await snapshots.getJson<HostSnapshot>(hostId))?.value;
      if (!s) continue;
      const u = usage(s);
      const c = s.capacity;
      if (u.vcpus > allocatableVcpus(c.cpus, c.cpuOvercommit) || u.memoryBytes > ordinaryMemoryCapacity(c)) overcommitted++;
      for (const cl of s.claims) claimsOf.set(cl.vmId, (claimsOf.get(cl.vmId) ?? 0) + 1);
      if (drained.includes(hostId) && c.state === 'maintenance') inMaintenance++;
    }
    const leakedClaims = [...claimsOf.values()].filter((n) => n > 1).length;
    const completed = moves.filter((m) => m.outcome === 'MigrationCompleted').length;
    const result = {
      services: true,
      hosts: HOSTS,
      vms: after.length,
      drainedHosts: DRAIN,
      vmsPerDrainedHost: drained.map((h) => onHost.get(h) ?? 0),
      drainVmMib: DRAIN_VM_MIB,
      hostsInMaintenance: inMaintenance,
      vmsMoved: completed,
      failedMoves: moves.filter((m) => m.outcome === 'MigrationFailed' || m.outcome === 'MigrationAborted').length,
      unfinishedMoves: unfinished,
      drainSeconds: { p50: round(quantile(drainSeconds, 0.5)), max: round(Math.max(...drainSeconds)) },
      totalDrainSeconds: round((t1 - t0) / 1000),
      maxConcurrentObserved: { fleet: fleetMax, outOfOneHost: perHostOut, intoOneHost: perHostIn },
      caps: CAPS,
      capUtilisation: waitingTime === 0 ? 0 : round(fullTime / waitingTime, 3),
      stepMillis,
      overcommitted,
      lost,
      duplicated,
      misplaced,
      readModelBehind,
      leakedClaims,
      planRpcMillis: { p50: round(quantile(planRpc, 0.5)), p99: round(quantile(planRpc, 0.99)), vms: expected, calls: PLANS },
      servicePlan: {
        fullPlans: rpcFigures.length,
        planMillis: {
          p50: round(
            quantile(
              rpcFigures.map((f) => f.planMillis),
              0.5,
            ),
          ),
          p99: round(
            quantile(
              rpcFigures.map((f) => f.planMillis),
              0.99,
            ),
          ),
        },
        readMillis: {
          p50: round(
            quantile(
              rpcFigures.map((f) => f.readMillis),
              0.5,
            ),
          ),
          p99: round(
            quantile(
              rpcFigures.map((f) => f.readMillis),
              0.99,
            ),
          ),
        },
      },
      drainPasses: {
        passes: passFigures.length,
        planMillis: {
          p50: round(
            quantile(
              passFigures.map((f) => f.planMillis),
              0.5,
            ),
          ),
          p99: round(
            quantile(
              passFigures.map((f) => f.planMillis),
              0.99,
            ),
          ),
        },
        readMillis: {
          p50: round(
            quantile(
              passFigures.map((f) => f.readMillis),
              0.5,
            ),
          ),
          p99: round(
            quantile(
              passFigures.map((f) => f.readMillis),
              0.99,
            ),
          ),
        },
      },
      loadAverage: { plan: loadAtPlan, drain: loadAtDrain },
      nats: natsUrl(),
      wallSeconds: round((performance.now() - started) / 1000, 1),
    };
    console.log(
      `drained ${inMaintenance}/${DRAIN} hosts: ${completed} VMs moved in ${result.totalDrainSeconds} s (p50 ${result.drainSeconds.p50} s per host); ` +
        `at most ${fleetMax} migrations at once (cap ${CAPS.fleet}), ${perHostOut} out of / ${perHostIn} into one host (caps ${CAPS.outboundPerHost} / ${CAPS.inboundPerHost}); ` +
        `cap full ${(result.capUtilisation * 100).toFixed(1)}% of the time work waited; lost ${lost}, duplicated ${duplicated}, overcommitted ${overcommitted}`,
    );
    for (const [step, q] of Object.entries(stepMillis)) say(`step ${step}: p50 ${q.p50} / p99 ${q.p99} ms`);
    console.log(JSON.stringify(result));
  } finally {
    for (const c of clients) c.close();
    await stopAll();
    await deletePrefixedStreams(prefix).catch(() => undefined);
    await nc.close();
    await Promise.all(dbs.map((d) => d.drop().catch(() => undefined)));
  }
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
