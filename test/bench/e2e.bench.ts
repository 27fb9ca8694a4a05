/**
 * End-to-end placement throughput: inventory, scheduler and placement-executor each run as a real
 * process against real Postgres (fresh databases) and NATS (a unique prefix); hosts are registered
 * with `sim://` URIs (the executor's simulator, zero added latency); VMs are composed through gRPC
 * ComposeVm with bounded concurrency and counted as running when the executor's `VmStarted` arrives
 * on NATS (the same path any subscriber sees).
 *
 *   npm run bench:e2e -- --hosts 200 --vms 2000 [--concurrency 64] [--schedulers 1] [--warmup 1000]
 *     [--scheduler-parallelism 64] [--policy spread] [--subset 16] [--alternates 16] [--rate 0] [--tls [--rounds 1]]
 *
 * `--tls` measures plaintext and mutual TLS in the same run, interleaved (plaintext, TLS, per round),
 * each on a fresh stack, and ends with their ratio.
 *
 * 64 ComposeVm calls in flight by default: each waits for inventory's group commit, so 32 in flight
 * capped the offered load near 450/s, below what the pipeline sustains. The first 1,000 VMs (warm-up)
 * are not measured: V8 is still compiling the hot paths then (TurboFan took seconds of CPU per service).
 * `--nats` is the nats-server binary to run a server of the benchmark's own from (default: the 2.15.x
 * build scripts/fetch-nats-server.sh fetches, the production line >= 2.12.3, run with `sync_interval:
 * always` and durables filtered on exactly the event types they handle), or `shared` for the server at NATS_URL.
 * `--rate N` offers N ComposeVm per second (still at most `--concurrency` in flight) instead of as many
 * as the concurrency allows: latency is then the pipeline's own, not the queue of a saturated one.
 * The scheduler runs with `spread`, a random first choice among the best 16 hosts (the subset is drawn
 * from the chosen host and its alternates, so those are 16 too) and 64 messages in hand at once by default: the
 * benchmark measures the pipeline, and `pack` makes concurrent placements race for one host.
 * The last line is one JSON object: vmsPerSecond (first accepted ComposeVm to last VmStarted),
 * p50Millis / p99Millis (request sent to VmStarted received), failed, eventsAppended (both logs) and
 * eventsPerVm (each log's measured events per VM, by type),
 * cpuMillisPerVm (each service, Postgres, NATS, this client, and their total, from /proc),
 * jetStreamWritesPerVm (messages each stream and KV bucket took while measuring, per VM: with
 * `sync_interval: always` every one is an fsync), plus the load average while measuring. E2E_LOG_DIR=dir keeps the services' logs.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import { openKv } from '@berth/messaging';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  isProductionLine,
  NATS_SERVER_BIN,
  natsUrl,
  PrivateNatsServer,
  prefixedStreamSequences,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import { startService, stopAll, type ServiceHandle } from '../harness/service.ts';
import { identityTls, testPki } from '../harness/tls.ts';
import { mapLimit } from '../harness/wait.ts';
import { median } from './stats.ts';

const GiB = 1024 ** 3;
type NatsConnection = Awaited<ReturnType<typeof connectTestNats>>;
const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '200' },
    vms: { type: 'string', default: '2000' },
    concurrency: { type: 'string', default: '64' },
    schedulers: { type: 'string', default: '1' },
    warmup: { type: 'string', default: '1000' },
    timeout: { type: 'string', default: '120' },
    'scheduler-parallelism': { type: 'string', default: '64' },
    policy: { type: 'string', default: 'spread' },
    subset: { type: 'string', default: '16' },
    alternates: { type: 'string', default: '16' },
    rate: { type: 'string', default: '0' },
    // Mutual TLS: each round measures a plaintext stack, then a stack with mutual TLS (fresh databases each).
    tls: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '1' },
    // The production line (>= 2.12.3) when scripts/fetch-nats-server.sh put it here; `shared` = NATS_URL.
    nats: { type: 'string', default: existsSync(NATS_SERVER_BIN) && isProductionLine(NATS_SERVER_BIN) ? NATS_SERVER_BIN : 'shared' },
  },
  strict: true,
  allowPositionals: false,
});

function positive(name: string, text: string, min = 1): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new Error(`--${name}: must be a whole number >= ${min}, got "${text}"`);
  return n;
}

const HOSTS = positive('hosts', args.hosts);
const VMS = positive('vms', args.vms);
const CONCURRENCY = positive('concurrency', args.concurrency);
const SCHEDULERS = positive('schedulers', args.schedulers);
const WARMUP = positive('warmup', args.warmup, 0);
const TIMEOUT_MILLIS = positive('timeout', args.timeout) * 1000;
const RATE = positive('rate', args.rate, 0);
if (args.policy !== 'pack' && args.policy !== 'spread') throw new Error(`--policy: must be pack or spread, got "${args.policy}"`);
const SCHEDULER_ENV = {
  SCHEDULER_PARALLELISM: String(positive('scheduler-parallelism', args['scheduler-parallelism'])),
  SCHEDULER_POLICY: args.policy,
  SCHEDULER_HOST_SUBSET_SIZE: String(positive('subset', args.subset)),
  SCHEDULER_ALTERNATES: String(positive('alternates', args.alternates, 0)),
};
// Each host takes its share of the VMs with room to spare: the benchmark measures the pipeline, not packing.
const HOST_CPUS = Math.max(16, Math.ceil(((VMS + WARMUP) / HOSTS) * 2 * 2));

const percentile = (sorted: readonly number[], p: number): number =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
const load = (): number[] => loadavg().map((l) => Math.round(l * 10) / 10);

/** Events in a service's log, by type; those of the warm-up's VMs (recorded late, in the measured window) apart as `warm-up:TYPE`. */
async function eventTypes(db: TestDatabase): Promise<Map<string, number>> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const found = await c.query<{ table_schema: string }>(
      "SELECT table_schema FROM information_schema.tables WHERE table_name = 'events' ORDER BY table_schema = 'public' LIMIT 1",
    );
    const schema = found.rows[0]?.table_schema;
    if (schema === undefined) return new Map();
    const r = await c.query<{ type: string; n: string }>(
      `SELECT CASE WHEN stream_id LIKE '%warm-%' THEN 'warm-up:' ELSE '' END || type AS type, count(*) AS n FROM "${schema}".events GROUP BY 1`,
    );
    return new Map(r.rows.map((row) => [row.type, Number(row.n)]));
  } finally {
    await c.end();
  }
}

const total = (types: ReadonlyMap<string, number>): number => [...types.values()].reduce((a, b) => a + b, 0);

/** What the measured VMs added to a log (or to the streams), per VM and key (`after` minus `before`), most frequent first. */
function perVm(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>, vms: number): Record<string, number> {
  const added = [...after].map(([type, n]) => [type, (n - (before.get(type) ?? 0)) / vms] as const).filter(([, n]) => n !== 0);
  return Object.fromEntries(added.sort((a, b) => b[1] - a[1]).map(([type, n]) => [type, Math.round(n * 1000) / 1000]));
}

interface ProcStat {
  readonly ppid: number;
  readonly comm: string;
  /** utime + stime, in clock ticks (100 per second on Linux). */
  readonly ticks: number;
}

/** Every process's parent, command name and CPU ticks so far (Linux /proc; empty elsewhere). */
function readProcs(): Map<number, ProcStat> {
  const out = new Map<number, ProcStat>();
  let pids: string[];
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const pid of pids) {
    try {
      // "pid (comm) state ppid ... utime(14) stime(15)"; comm may hold spaces, so split after its ')'.
      const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const close = text.lastIndexOf(')');
      const f = text.slice(close + 2).split(' ');
      out.set(Number(pid), { ppid: Number(f[1]), comm: text.slice(text.indexOf('(') + 1, close), ticks: Number(f[11]) + Number(f[12]) });
    } catch {
      // exited meanwhile
    }
  }
  return out;
}

function treeOf(procs: ReadonlyMap<number, ProcStat>, root: number): Set<number> {
  const tree = new Set([root]);
  for (let grew = true; grew;) {
    grew = false;
    for (const [pid, st] of procs) {
      if (!tree.has(pid) && tree.has(st.ppid)) {
        tree.add(pid);
        grew = true;
      }
    }
  }
  return tree;
}

/**
 * Which part of the run each process belongs to: a service (its process tree), Postgres, NATS, or
 * this benchmark (its own process: the gRPC client and the NATS subscriber). Everything else is left out.
 */
function groupsOf(procs: ReadonlyMap<number, ProcStat>, services: readonly ServiceHandle[]): Map<number, string> {
  const groups = new Map<number, string>();
  for (const h of services) for (const pid of treeOf(procs, h.pid)) groups.set(pid, h.label);
  for (const [pid, st] of procs) {
    if (groups.has(pid)) continue;
    if (st.comm === 'postgres') groups.set(pid, 'postgres');
    else if (st.comm === 'nats-server') groups.set(pid, 'nats');
  }
  groups.set(process.pid, 'benchmark client');
  return groups;
}

/**
 * CPU milliseconds per VM of each part between two readings, and their total: the figure that
 * survives a loaded machine better than VMs per second. A process that exited between the readings
 * is not counted (Postgres backends live as long as their pools).
 */
function cpuPerVm(
  before: ReadonlyMap<number, ProcStat>,
  after: ReadonlyMap<number, ProcStat>,
  services: readonly ServiceHandle[],
  vms: number,
): Record<string, number> {
  const sums = new Map<string, number>([
    ...services.map((h) => [h.label, 0] as const),
    ['postgres', 0],
    ['nats', 0],
    ['benchmark client', 0],
  ]);
  for (const [pid, group] of groupsOf(after, services)) {
    const now = after.get(pid)!;
    const then = before.get(pid);
    const ticks = now.ticks - (then !== undefined && then.comm === now.comm ? then.ticks : 0);
    sums.set(group, (sums.get(group) ?? 0) + ticks);
  }
  const perVm = (ticks: number): number => Math.round(((ticks * 10) / vms) * 100) / 100;
  const total = [...sums.values()].reduce((a, b) => a + b, 0);
  return { ...Object.fromEntries([...sums].map(([k, v]) => [k, perVm(v)])), total: perVm(total) };
}

/** VmStarted / VmPlacementFailed as they reach NATS subscribers, keyed by VM id. */
function watchOutcomes(nc: NatsConnection, prefix: string) {
  const started = new Map<string, number>();
  const placementFailed = new Map<string, string>();
  let provisionFailures = 0;
  const on = (subject: string, fn: (data: Record<string, unknown>) => void): void => {
    nc.subscribe(`${prefix}.${subject}`, {
      callback: (err, msg) => {
        if (!err) fn(msg.json<{ data: Record<string, unknown> }>().data);
      },
    });
  };
  on('berth.executor.vm.VmStarted', (d) => {
    const vmId = String(d['vmId']);
    if (!started.has(vmId)) started.set(vmId, performance.now());
  });
  on('berth.inventory.vm.*.VmPlacementFailed', (d) => placementFailed.set(String(d['vmId']), JSON.stringify(d['reason'] ?? '')));
  on('berth.executor.vm.DomainProvisionFailed', () => provisionFailures++);
  return { started, placementFailed, provisionFailures: () => provisionFailures };
}

/** Wall-clock millis of the first event of each type per VM stream (`occurred_at`: its transaction's start). */
async function eventTimes(db: TestDatabase, types: readonly string[]): Promise<Map<string, Map<string, number>>> {
  const c = new pg.Client({ connectionString: db.url });
  await c.connect();
  try {
    const r = await c.query<{ stream_id: string; type: string; at: string }>(
      `SELECT stream_id, type, min(extract(epoch FROM occurred_at) * 1000) AS at FROM events WHERE type = ANY($1) GROUP BY stream_id, type`,
      [types],
    );
    const out = new Map<string, Map<string, number>>(types.map((t) => [t, new Map()]));
    for (const row of r.rows) out.get(row.type)!.set(row.stream_id.replace(/^vm-/, ''), Number(row.at));
    return out;
  } finally {
    await c.end();
  }
}

/** p50/p99 from one stage to the next (request sent, appended in each log, received by us), to see where the time goes. */
async function stageBreakdown(
  vmIds: readonly string[],
  run: Run,
  started: ReadonlyMap<string, number>,
  invDb: TestDatabase,
  execDb: TestDatabase,
): Promise<Record<string, string>> {
  const wall = (m: ReadonlyMap<string, number>): Map<string, number> => new Map([...m].map(([k, v]) => [k, performance.timeOrigin + v]));
  const inv = await eventTimes(invDb, ['VmRequested', 'VmPlaced']);
  const exec = await eventTimes(execDb, ['DomainProvisioningStarted', 'VmStarted']);
  const points: [string, ReadonlyMap<string, number>][] = [
    ['sent', wall(run.sentAt)],
    ['VmRequested', inv.get('VmRequested')!],
    ['VmPlaced', inv.get('VmPlaced')!],
    ['DomainProvisioningStarted', exec.get('DomainProvisioningStarted')!],
    ['VmStarted', exec.get('VmStarted')!],
    ['received', wall(started)],
  ];
  const out: Record<string, string> = {};
  for (let i = 1; i < points.length; i++) {
    const [fromName, from] = points[i - 1]!;
    const [toName, to] = points[i]!;
    const d = vmIds.flatMap((v) => (from.has(v) && to.has(v) ? [to.get(v)! - from.get(v)!] : [])).sort((a, b) => a - b);
    out[`${fromName}->${toName}`] = `p50 ${Math.round(percentile(d, 50))} p99 ${Math.round(percentile(d, 99))}`;
  }
  return out;
}

interface Run {
  readonly sentAt: Map<string, number>;
  firstAccepted: number;
  readonly rejected: Map<string, string>;
}

async function compose(client: InstanceType<typeof inventoryV1.InventoryServiceClient>, vmIds: readonly string[]): Promise<Run> {
  const run: Run = { sentAt: new Map(), firstAccepted: Number.POSITIVE_INFINITY, rejected: new Map() };
  const start = performance.now();
  await mapLimit(vmIds, CONCURRENCY, async (vmId, i) => {
    if (RATE > 0) await new Promise((r) => setTimeout(r, start + (i * 1000) / RATE - performance.now()));
    const sent = performance.now();
    run.sentAt.set(vmId, sent);
    try {
      await callUnary(client, 'composeVm', {
        meta: { commandId: `compose-${vmId}` },
        vmId,
        spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: i % 4 === 3 ? 2 : 1, memoryBytes: (i % 4 === 3 ? 2 : 1) * GiB }),
      });
      run.firstAccepted = Math.min(run.firstAccepted, performance.now());
    } catch (e) {
      run.rejected.set(vmId, e instanceof Error ? e.message : String(e));
    }
  });
  return run;
}

const TLS_VARS = ['BERTH_TLS_CERT', 'BERTH_TLS_KEY', 'BERTH_TLS_CA'] as const;

async function measure(tls: boolean): Promise<Record<string, unknown>> {
  const t0 = performance.now();
  // TLS rounds: every service its own identity, this process (health checks, ComposeVm) the operator `bench`.
  const tlsEnv = (service: string): Record<string, string> => (tls ? testPki().envFor('service', service) : {});
  for (const v of TLS_VARS) delete process.env[v];
  if (tls) Object.assign(process.env, testPki().envFor('operator', 'bench'));
  const prefix = testSubjectPrefix('bench');
  const [invDb, execDb] = await Promise.all([createTestDatabase('bench_inventory'), createTestDatabase('bench_executor')]);
  // A server of our own (a fresh store in a temp folder) for the services and this client, or the shared one.
  const ownNats = args.nats === 'shared' ? undefined : await PrivateNatsServer.start(args.nats);
  if (ownNats !== undefined) process.env['NATS_URL'] = ownNats.url;
  const nc = await connectTestNats();
  let client: InstanceType<typeof inventoryV1.InventoryServiceClient> | undefined;
  try {
    const inventory = await startService('inventory', { DATABASE_URL: invDb.url, NATS_PREFIX: prefix, ...tlsEnv('inventory') });
    const services: ServiceHandle[] = [inventory];
    services.push(
      ...(await Promise.all([
        startService('placement-executor', { DATABASE_URL: execDb.url, NATS_PREFIX: prefix, ...tlsEnv('placement-executor') }),
        ...Array.from({ length: SCHEDULERS }, (_, i) =>
          startService(
            'scheduler',
            { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address, ...SCHEDULER_ENV, ...tlsEnv('scheduler') },
            { label: `scheduler-${i + 1}` },
          ),
        ),
      ])),
    );
    client = createClient(inventoryV1.InventoryServiceClient, inventory.address, {
      deadlineMillis: 30_000,
      ...(tls ? { tls: identityTls('operator', 'bench') } : {}),
    });
    const c = client;
    const outcomes = watchOutcomes(nc, prefix);
    console.error(`services up in ${((performance.now() - t0) / 1000).toFixed(1)} s (prefix ${prefix})`);

    const hostIds = Array.from({ length: HOSTS }, (_, i) => `sim-${String(i + 1).padStart(4, '0')}`);
    await mapLimit(hostIds, 16, (hostId) =>
      callUnary(c, 'registerHost', {
        meta: { commandId: `register-${hostId}` },
        hostId,
        spec: modelV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'Cascadelake-Server',
          topology: { sockets: 1, coresPerSocket: HOST_CPUS, threadsPerCore: 1 },
          cpus: HOST_CPUS,
          memoryBytes: HOST_CPUS * GiB,
        }),
        state: modelV1.HostState.HOST_STATE_ENABLED,
      }),
    );
    // The scheduler places from the snapshot bucket: measure only once every host is in it.
    const snapshots = await openKv(nc, 'berth-host-snapshots', { prefix });
    const keyCount = async (): Promise<number> => {
      let n = 0;
      for await (const _key of await snapshots.kv.keys()) n++;
      return n;
    };
    await eventually(async () => (await keyCount()) >= HOSTS || undefined, `${HOSTS} host snapshots`, 60_000, 250);
    console.error(`${HOSTS} hosts registered at ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    const settle = async (vmIds: readonly string[]): Promise<void> => {
      const until = performance.now() + TIMEOUT_MILLIS;
      while (vmIds.some((v) => !outcomes.started.has(v) && !outcomes.placementFailed.has(v)) && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    if (WARMUP > 0) {
      const warm = Array.from({ length: WARMUP }, (_, i) => `warm-${String(i).padStart(4, '0')}`);
      await compose(c, warm);
      await settle(warm);
    }

    const typesBefore = await Promise.all([eventTypes(invDb), eventTypes(execDb)]);
    const vmIds = Array.from({ length: VMS }, (_, i) => `vm-${String(i).padStart(5, '0')}`);
    const seqBefore = await prefixedStreamSequences(prefix, nc);
    const procsBefore = readProcs();
    const loadStart = load();
    const run = await compose(c, vmIds);
    const composedAt = performance.now();
    await settle(vmIds);
    const loadEnd = load();
    const cpuMillisPerVm = cpuPerVm(procsBefore, readProcs(), services, VMS);
    // Messages each stream (event streams and KV buckets) took while the measured VMs went through.
    const jetStreamWritesPerVm = perVm(seqBefore, await prefixedStreamSequences(prefix, nc), VMS);

    const latencies: number[] = [];
    let lastStarted = run.firstAccepted;
    for (const vmId of vmIds) {
      const at = outcomes.started.get(vmId);
      if (at === undefined) continue;
      latencies.push(at - run.sentAt.get(vmId)!);
      lastStarted = Math.max(lastStarted, at);
    }
    latencies.sort((a, b) => a - b);
    const running = latencies.length;
    const failed = VMS - running;
    const typesAfter = await Promise.all([eventTypes(invDb), eventTypes(execDb)]);
    const eventsAppended = total(typesAfter[0]) + total(typesAfter[1]) - total(typesBefore[0]) - total(typesBefore[1]);
    console.error(JSON.stringify(await stageBreakdown(vmIds, run, outcomes.started, invDb, execDb)));
    for (const [vmId, reason] of [...run.rejected, ...outcomes.placementFailed].slice(0, 5)) console.error(`failed ${vmId}: ${reason}`);
    const result = {
      tls,
      vmsPerSecond: Math.round(running / ((lastStarted - run.firstAccepted) / 1000)),
      p50Millis: Math.round(percentile(latencies, 50)),
      p99Millis: Math.round(percentile(latencies, 99)),
      failed,
      eventsAppended,
      eventsPerVm: {
        inventory: perVm(typesBefore[0], typesAfter[0], VMS),
        executor: perVm(typesBefore[1], typesAfter[1], VMS),
      },
      hosts: HOSTS,
      vms: VMS,
      concurrency: CONCURRENCY,
      rate: RATE,
      schedulers: SCHEDULERS,
      scheduler: SCHEDULER_ENV,
      composePerSecond: Math.round(VMS / ((composedAt - run.firstAccepted) / 1000)),
      maxMillis: Math.round(latencies.at(-1) ?? 0),
      rejected: run.rejected.size,
      placementFailed: vmIds.filter((v) => outcomes.placementFailed.has(v)).length,
      provisionFailures: outcomes.provisionFailures(),
      cpuMillisPerVm,
      jetStreamWritesPerVm,
      loadAverage: { start: loadStart, end: loadEnd },
      nats: { version: nc.info?.version ?? '?', server: ownNats === undefined ? natsUrl() : `own (${args.nats})` },
      totalSeconds: Math.round((performance.now() - t0) / 100) / 10,
    };
    console.log(JSON.stringify(result));
    return result;
  } finally {
    for (const v of TLS_VARS) delete process.env[v];
    client?.close();
    await stopAll();
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
    await ownNats?.destroy();
    await Promise.all([invDb.drop(), execDb.drop()]);
  }
}

/**
 * Without --tls: one plaintext measurement. With --tls: `--rounds` pairs of one plaintext and one
 * mutual-TLS measurement, each on a fresh stack, the order alternating per pair (plain first, then TLS
 * first) so that a drift of the machine's load hits both sides alike; the last line gives the medians
 * { plainVmsPerSecond, tlsVmsPerSecond, ratio } and the median of the per-pair ratios (`pairRatio`,
 * the figure to quote: each pair ran back to back under about the same load; target >= 0.85,
 * docs/security.md), with each pair's figures and load averages.
 */
async function main(): Promise<void> {
  if (!args.tls) {
    await measure(false);
    return;
  }
  const pairs: { plain: number; tls: number; ratio: number; order: string; load: number[] }[] = [];
  for (let round = 0; round < positive('--rounds', args.rounds); round++) {
    const order = round % 2 === 0 ? [false, true] : [true, false];
    const got = new Map<boolean, Record<string, unknown>>();
    for (const tls of order) got.set(tls, await measure(tls));
    const plain = Number(got.get(false)!['vmsPerSecond']);
    const tls = Number(got.get(true)!['vmsPerSecond']);
    pairs.push({
      plain,
      tls,
      ratio: plain > 0 ? Math.round((tls / plain) * 1000) / 1000 : 0,
      order: order.map((t) => (t ? 'tls' : 'plain')).join(','),
      // the 1-minute load average at the start of each measurement, in the order they ran
      load: order.map((t) => (got.get(t)!['loadAverage'] as { start: number[] }).start[0] ?? NaN),
    });
    console.error(`pair ${round + 1}: ${JSON.stringify(pairs.at(-1))}`);
  }
  const p = median(pairs.map((x) => x.plain));
  const t = median(pairs.map((x) => x.tls));
  console.log(
    JSON.stringify({
      plainVmsPerSecond: p,
      tlsVmsPerSecond: t,
      ratio: p > 0 ? Math.round((t / p) * 100) / 100 : 0,
      pairRatio: Math.round(median(pairs.map((x) => x.ratio)) * 100) / 100,
      pairs,
    }),
  );
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
