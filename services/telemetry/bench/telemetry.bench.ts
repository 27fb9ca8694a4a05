/**
 * Telemetry benchmark.
 *
 *   npm run bench:telemetry -- [--hosts 1000] [--vms 50] [--seconds 60] [--warmup 30] [--evals 3000]
 *
 * 1. evaluationsPerSecond, p99Millis: one host with 50 guests and 10 samples of history each through
 *    Berth's default policy (the stock policies' size and shape: defines, parameters, balloon, KSM,
 *    CPU tune), the whole interval pipeline (MOM policy, SLA clamp, minimum step, controls), in process.
 * 2. cpuPercentAt1000Hosts: the telemetry service as its own process (fresh database, NATS prefix)
 *    while this process plays the executors: 1,000 simulated hosts × 50 VMs (the simulator's memory
 *    model, workloads on their default curves) sampled every 5 s and published on NATS by the
 *    executor's telemetry agent, which also answers the controls; policy every 10 s. CPU from
 *    /proc/<pid>/stat over the measured window (percent of one core).
 * 3. postgresStatementsPerSecond during that window: committed + rolled back transactions of the
 *    telemetry database (pg_stat_database; every statement the service sends is its own transaction).
 * The last line is one JSON object.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SimMemoryModel, SimulatorFleet, type DomainSpec } from '@berth/hypervisor';
import { createLogger } from '@berth/observability';
import { connectTestNats, createTestDatabase, natsUrl, testSubjectPrefix } from '@berth/testing';
// The executor's agent plays the executors here (a benchmark may use two services; their src may not).
import { TelemetryAgent } from '../../placement-executor/src/adapters/nats/telemetry-agent.ts';
import { momEngine } from '../src/adapters/mom/engine.ts';
import { DEFAULT_POLICY_DIR, readPolicyDir } from '../src/adapters/mom/default-policy.ts';
import { SampleHistory } from '../src/application/history.ts';
import { buildInput } from '../src/application/input.ts';
import { runInterval } from '../src/application/interval.ts';

const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '1000' },
    vms: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '30' },
    evals: { type: 'string', default: '3000' },
  },
});
const HOSTS = Number(args.hosts);
const VMS = Number(args.vms);
const GiB = 1024 ** 3;
const caps = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const spec = (vmId: string): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 2,
  memoryBytes: 4 * GiB,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [],
  lazyAllocation: true,
  diskCache: 'none',
  networks: [],
});

async function fleetOf(hosts: number, vms: number): Promise<{ fleet: SimulatorFleet; model: SimMemoryModel; uris: Map<string, string> }> {
  const fleet = new SimulatorFleet();
  const model = new SimMemoryModel(fleet);
  const uris = new Map<string, string>();
  for (let h = 0; h < hosts; h++) {
    const hostId = `bh${String(h).padStart(4, '0')}`;
    // 50 × 4 GiB on 160 GiB: the workload peaks press on the hosts.
    uris.set(hostId, fleet.addHost({ hostId, cpus: 64, memoryBytes: vms * 4 * GiB * 0.8 }));
    const d = fleet.driver(`sim://${hostId}`);
    for (let v = 0; v < vms; v++) {
      const vmId = `${hostId}-v${v}`;
      await d.define(spec(vmId));
      await d.start(vmId);
    }
  }
  return { fleet, model, uris };
}

async function evaluationRate(): Promise<{ evaluationsPerSecond: number; p99Millis: number; p50Millis: number }> {
  const { fleet } = await fleetOf(1, VMS);
  const history = new SampleHistory(10);
  let t = 0;
  const timeModel = new SimMemoryModel(fleet, { now: () => t });
  for (let i = 0; i < 10; i++, t += 5) {
    const s = await timeModel.source('bh0000').sample();
    history.add(
      {
        v: 1,
        hostId: 'bh0000',
        at: '',
        capabilities: caps,
        host: s.host,
        guests: s.guests.map((g) => ({ vmId: g.vmId ?? g.name, stats: g.stats })),
      },
      0,
    );
  }
  const files = await readPolicyDir(DEFAULT_POLICY_DIR);
  const c = momEngine.compile(files);
  if (!c.ok) throw new Error(`${c.file}:${c.line} ${c.message}`);
  const input = {
    mom: buildInput(history, 'bh0000', { vms: { get: () => undefined }, historyLength: 10 })!,
    capabilities: caps,
    ioTuneApplied: {},
  };
  const n = Number(args.evals);
  for (let i = 0; i < Math.min(300, n); i++) runInterval(momEngine, c.set, input); // warm-up
  const times: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const a = performance.now();
    const r = runInterval(momEngine, c.set, input);
    times.push(performance.now() - a);
    if (!r.ok) throw new Error(`policy failed: ${r.error}`);
  }
  const total = performance.now() - start;
  times.sort((a, b) => a - b);
  return {
    evaluationsPerSecond: Math.round((n / total) * 1000),
    p50Millis: round(times[Math.floor(n * 0.5)]!),
    p99Millis: round(times[Math.floor(n * 0.99)]!),
  };
}

const round = (x: number): number => Math.round(x * 1000) / 1000;
const cpuTicks = (pid: number): number => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const parts = f.slice(f.lastIndexOf(')') + 2).split(' ');
  return Number(parts[11]) + Number(parts[12]);
};

async function fleetCpu(): Promise<Record<string, number>> {
  const db = await createTestDatabase('bench_telemetry');
  const prefix = testSubjectPrefix('tb');
  const nc = await connectTestNats();
  const root = new URL('../../..', import.meta.url).pathname;
  const child = spawn(process.execPath, ['--import', 'tsx', 'services/telemetry/src/main.ts'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, DATABASE_URL: db.url, NATS_URL: natsUrl(), NATS_PREFIX: prefix, TELEMETRY_GRPC_PORT: '0', LOG_LEVEL: 'warn' },
  });
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  const logger = createLogger('bench-executors');
  let agent: TelemetryAgent | undefined;
  try {
    for (let i = 0; i < 600 && !/telemetry serving/.test(out); i++) {
      if (child.exitCode !== null) throw new Error(`telemetry exited: ${out}`);
      await sleep(100);
    }
    console.log(`telemetry started (pid ${child.pid}); building ${HOSTS} hosts × ${VMS} VMs`);
    const { fleet, model, uris } = await fleetOf(HOSTS, VMS);
    agent = new TelemetryAgent({
      nc,
      prefix,
      hosts: async () => uris,
      driverFor: (uri) => fleet.driver(uri),
      telemetryFor: (uri) => model.source(uri.slice('sim://'.length)),
      power: async () => undefined,
      intervalMillis: 5000,
      concurrency: 100,
      logger,
    });
    agent.start(true);
    const warm = Number(args.warmup) * 1000;
    console.log(`sampling every 5 s; warming up ${warm / 1000} s`);
    await sleep(warm);
    const admin = new pg.Client({ connectionString: db.url });
    await admin.connect();
    const stat = async (): Promise<number> =>
      Number(
        (
          await admin.query<{ n: string }>(
            'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
          )
        ).rows[0]!.n,
      );
    const decisions = async (): Promise<number> =>
      Number((await admin.query<{ n: string }>("SELECT count(*) AS n FROM events WHERE type = 'DecisionRecorded'")).rows[0]!.n);
    const quiet = async (): Promise<[number, number]> => {
      const r = (
        await admin.query<{ n: string | null; failed: string | null }>(
          "SELECT sum(jsonb_array_length(data->'entries')) AS n, sum((SELECT count(*) FROM jsonb_array_elements(data->'entries') x WHERE x ? 'error')) AS failed FROM events WHERE type = 'IntervalsUnchanged'",
        )
      ).rows[0]!;
      return [Number(r.n ?? 0), Number(r.failed ?? 0)];
    };
    const [t0, s0, d0, q0, c0] = [performance.now(), await stat(), await decisions(), await quiet(), cpuTicks(child.pid!)];
    await sleep(Number(args.seconds) * 1000);
    const [t1, c1] = [performance.now(), cpuTicks(child.pid!)];
    const [s1, d1, q1] = [await stat(), await decisions(), await quiet()];
    await admin.end();
    const warnings = out.split('\n').filter((l) => /"level":"(warn|error)"/.test(l));
    if (warnings.length > 0) console.log(`telemetry logged ${warnings.length} warnings, the last: ${warnings.at(-1)?.slice(0, 600)}`);
    const secs = (t1 - t0) / 1000;
    // pg_stat_database counts the 6 reads above as well (3 between the two readings of it); they are taken off.
    return {
      cpuPercentAt1000Hosts: Math.round(((c1 - c0) / 100 / secs) * 1000) / 10,
      postgresStatementsPerSecond: Math.round(((s1 - s0 - 3) / secs) * 10) / 10,
      hostIntervalsPerSecond: Math.round(((d1 - d0 + q1[0] - q0[0]) / secs) * 10) / 10,
      failedIntervalsPerSecond: Math.round(((q1[1] - q0[1]) / secs) * 10) / 10,
      decisionsPerSecond: Math.round(((d1 - d0) / secs) * 10) / 10,
      hosts: HOSTS,
      vms: HOSTS * VMS,
    };
  } finally {
    await agent?.stop();
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
    await nc.close();
    await db.drop();
  }
}

const evals = await evaluationRate();
console.log(
  `one host, ${VMS} guests, default policy: ${evals.evaluationsPerSecond} evaluations/s, p50 ${evals.p50Millis} ms, p99 ${evals.p99Millis} ms`,
);
const fleet = await fleetCpu();
console.log(
  `telemetry at ${fleet['hosts']} hosts × ${VMS} VMs: ${fleet['cpuPercentAt1000Hosts']}% of a core, ${fleet['postgresStatementsPerSecond']} Postgres statements/s, ${fleet['hostIntervalsPerSecond']} host intervals/s (${fleet['failedIntervalsPerSecond']} failed), ${fleet['decisionsPerSecond']} decisions/s`,
);
console.log(JSON.stringify({ ...evals, ...fleet, loadAverage: loadavg()[0] }));
process.exit(0);
