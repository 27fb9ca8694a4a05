/**
 * Telemetry benchmark.
 *
 *   npm run bench:telemetry -- [--hosts 1000] [--vms 50] [--baseline 20] [--warmup 30] [--seconds 60] [--evals 3000] [--nice -10]
 *                              [--log-level debug] [--profile DIR] [--service-flags production|none]
 *                              [--service-node-options="--flag ..."]
 *
 * 1. evaluationsPerSecond, p99Millis: one host with 50 guests and 10 samples of history each through
 *    Berth's default policy (the stock policies' size and shape: defines, parameters, balloon, KSM,
 *    CPU tune), the whole interval pipeline (MOM policy, SLA clamp, minimum step, controls), in process.
 * 2. cpuPercentAt1000Hosts: three processes — the telemetry service (`services/telemetry/src/main.ts`, fresh
 *    database, its own NATS prefix), the executors (`bench/executors.ts`: 1,000 simulated hosts × 50 VMs on
 *    the simulator's memory model, sampled every 5 s and published on NATS by the executor's telemetry
 *    agent, which also answers the controls) and this one (the harness). Policy every 10 s (the default).
 *    The service is started as `npm start` starts it (`serviceCommand`: the built JavaScript when the
 *    build `prebench:telemetry` makes is fresh, with the flags every service runs with, SERVICE_NODE_FLAGS;
 *    `--service-flags none`: without them, as this bench did before session 9).
 *    Same run, same service process: first a baseline window with the fleet built and controls served but
 *    no samples (the service idle), then, after a warm-up, the measured window at full load. CPU from
 *    /proc/<pid>/stat (percent of one core). The run is valid only if the service kept up: samples
 *    received and host intervals evaluated per second at least 95% of 1,000/5 s and 1,000/10 s.
 *    On a shared machine the service and the executors run at `--nice` (-10 when root): CPU time per unit
 *    of work does not change, but they are not starved of wall time by the other sessions, so the service
 *    can keep up and the executors answer the controls within their timeout.
 * 3. Postgres: pg_stat_database transactions (every statement the service sends is its own transaction)
 *    and pg_stat_user_tables rows inserted per table, before and after each window; the rows are compared
 *    with the log events appended in the window (decisions and batched quiet records): samples never
 *    reach Postgres, so rows inserted = log events, whatever the sample rate.
 * The last line is one JSON object.
 */
import { fork, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { SERVICE_NODE_FLAGS } from '@berth/config';
import { SimMemoryModel } from '@berth/hypervisor';
import { connectTestNats, createTestDatabase, natsUrl, testSubjectPrefix } from '@berth/testing';
import { momEngine } from '../src/adapters/mom/engine.ts';
import { DEFAULT_POLICY_DIR, readPolicyDir } from '../src/adapters/mom/default-policy.ts';
import { SampleHistory } from '../src/application/history.ts';
import { buildInput, prepareGuestSample } from '../src/application/input.ts';
import { runInterval } from '../src/application/interval.ts';
import { serviceCommand } from '../../../scripts/service-build.mjs';
import { fleetOf } from './fleet.ts';

const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '1000' },
    vms: { type: 'string', default: '50' },
    seconds: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '30' },
    baseline: { type: 'string', default: '20' },
    evals: { type: 'string', default: '3000' },
    nice: { type: 'string', default: process.getuid?.() === 0 ? '-10' : '0' },
    /** `debug`: the service logs each policy round (hosts evaluated while in flight, stale, superseded; round times), summed up at the end. */
    'log-level': { type: 'string', default: 'warn' },
    /** A directory: the service writes a V8 CPU profile of the whole run there (`--cpu-prof`) when it stops. */
    profile: { type: 'string' },
    /** `production`: the service runs with SERVICE_NODE_FLAGS, as `npm start` runs it; `none`: without. */
    'service-flags': { type: 'string', default: 'production' },
    /** More Node/V8 flags for the service's process only (e.g. `--trace-gc`), space-separated; `--service-node-options=...`. */
    'service-node-options': { type: 'string', default: '' },
  },
});
const HOSTS = Number(args.hosts);
const VMS = Number(args.vms);
const caps = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function evaluationRate(): Promise<{ evaluationsPerSecond: number; p99Millis: number; p50Millis: number }> {
  const { fleet } = await fleetOf(0, 1, VMS);
  const history = new SampleHistory(10, prepareGuestSample({ get: () => undefined }));
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

interface Counters {
  readonly t: number;
  readonly cpu: number;
  readonly xacts: number;
  readonly rows: Record<string, number>;
  readonly events: number;
  readonly decisions: number;
  readonly quiet: number;
  readonly failed: number;
  readonly samples: number;
  /** Sum over the decisions so far of their data's JSON text and of what Postgres stores (after TOAST compression). */
  readonly decisionJsonBytes: number;
  readonly decisionStoredBytes: number;
}

async function fleetCpu(): Promise<Record<string, unknown>> {
  const db = await createTestDatabase('bench_telemetry');
  const prefix = testSubjectPrefix('tb');
  const nc = await connectTestNats();
  const root = new URL('../../..', import.meta.url).pathname;
  const nice = Number(args.nice);
  if (args['service-flags'] !== 'production' && args['service-flags'] !== 'none') throw new Error('--service-flags: production or none');
  const service = serviceCommand(root, 'telemetry', [
    ...(args['service-flags'] === 'production' ? SERVICE_NODE_FLAGS : []),
    ...(args.profile !== undefined ? ['--cpu-prof', '--cpu-prof-dir', args.profile] : []),
    ...args['service-node-options'].split(' ').filter((x) => x.length > 0),
  ]);
  const child = spawn(
    nice !== 0 ? 'nice' : service.command,
    [...(nice !== 0 ? ['-n', String(nice), service.command] : []), ...service.args],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        DATABASE_URL: db.url,
        NATS_URL: natsUrl(),
        NATS_PREFIX: prefix,
        TELEMETRY_GRPC_PORT: '0',
        LOG_LEVEL: args['log-level'],
      },
    },
  );
  let out = '';
  child.stdout.on('data', (b: Buffer) => (out += b.toString()));
  child.stderr.on('data', (b: Buffer) => (out += b.toString()));
  // `nice` execs node: the pid is the service's.
  const pid = child.pid!;
  let executors: ReturnType<typeof fork> | undefined;
  // Samples as the service receives them: counted on the same subjects by this harness.
  let samples = 0;
  const sampleSub = nc.subscribe(`${prefix}.berth.samples.*`, { callback: () => void samples++ });
  const admin = new pg.Client({ connectionString: db.url });
  try {
    for (let i = 0; i < 600 && !/telemetry serving/.test(out); i++) {
      if (child.exitCode !== null) throw new Error(`telemetry exited: ${out}`);
      await sleep(100);
    }
    console.log(
      `telemetry started (pid ${pid}, nice ${nice}, ${service.built ? 'built JavaScript' : 'sources under tsx'}, flags ${service.args.filter((a) => a.startsWith('--max') || a.startsWith('--single')).join(' ') || 'none'})`,
    );
    console.log(`building ${HOSTS} hosts × ${VMS} VMs in the executors' process`);
    executors = fork(
      new URL('./executors.ts', import.meta.url).pathname,
      ['--count', String(HOSTS), '--vms', String(VMS), '--prefix', prefix],
      {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      },
    );
    // The executors answer the controls: starved of wall time they time out (30 s) and the hosts wait.
    if (nice !== 0) spawn('renice', ['-n', String(nice), '-p', String(executors.pid)], { stdio: 'ignore' });
    await new Promise<void>((resolve, reject) => {
      executors!.once('message', () => resolve());
      executors!.once('exit', (code) => reject(new Error(`executors exited (${code})`)));
    });
    await admin.connect();
    const read = async (): Promise<Counters> => {
      const x = await admin.query<{ n: string }>(
        'SELECT xact_commit + xact_rollback AS n FROM pg_stat_database WHERE datname = current_database()',
      );
      const r = await admin.query<{ relname: string; n: string }>('SELECT relname, n_tup_ins AS n FROM pg_stat_user_tables');
      const e = await admin.query<{
        events: string;
        decisions: string;
        quiet: string;
        failed: string | null;
        json: string | null;
        stored: string | null;
      }>(
        `SELECT count(*) AS events, count(*) FILTER (WHERE type = 'DecisionRecorded') AS decisions,
                sum(octet_length(data::text)) FILTER (WHERE type = 'DecisionRecorded') AS json,
                sum(pg_column_size(data)) FILTER (WHERE type = 'DecisionRecorded') AS stored,
                coalesce(sum(jsonb_array_length(data->'entries')) FILTER (WHERE type = 'UnchangedIntervalsRecorded'), 0) AS quiet,
                sum((SELECT count(*) FROM jsonb_array_elements(data->'entries') x WHERE x ? 'error')) FILTER (WHERE type = 'UnchangedIntervalsRecorded') AS failed
           FROM events`,
      );
      return {
        t: performance.now(),
        cpu: cpuTicks(pid),
        xacts: Number(x.rows[0]!.n),
        rows: Object.fromEntries(r.rows.map((row) => [row.relname, Number(row.n)])),
        events: Number(e.rows[0]!.events),
        decisions: Number(e.rows[0]!.decisions),
        quiet: Number(e.rows[0]!.quiet),
        failed: Number(e.rows[0]!.failed ?? 0),
        samples,
        decisionJsonBytes: Number(e.rows[0]!.json ?? 0),
        decisionStoredBytes: Number(e.rows[0]!.stored ?? 0),
      };
    };
    // pg_stat_* are updated when a backend's transaction ends (and at most every 1 s): wait before each reading.
    const settle = (): Promise<void> => sleep(1500);
    const window = (a: Counters, b: Counters) => {
      const secs = (b.t - a.t) / 1000;
      const per = (x: number): number => Math.round((x / secs) * 10) / 10;
      const rows: Record<string, number> = {};
      for (const [k, v] of Object.entries(b.rows)) if (v - (a.rows[k] ?? 0) > 0) rows[k] = v - (a.rows[k] ?? 0);
      return {
        seconds: Math.round(secs),
        cpuPercent: Math.round(((b.cpu - a.cpu) / 100 / secs) * 1000) / 10,
        // the 3 reads of one reading are counted as well; taken off
        postgresStatementsPerSecond: per(b.xacts - a.xacts - 3),
        rowsInserted: rows,
        logEventsAppended: b.events - a.events,
        samplesPerSecond: per(b.samples - a.samples),
        hostIntervalsPerSecond: per(b.decisions - a.decisions + b.quiet - a.quiet),
        failedIntervalsPerSecond: per(b.failed - a.failed),
        decisionsPerSecond: per(b.decisions - a.decisions),
        jsonBytesPerDecision:
          b.decisions > a.decisions ? Math.round((b.decisionJsonBytes - a.decisionJsonBytes) / (b.decisions - a.decisions)) : 0,
        storedBytesPerDecision:
          b.decisions > a.decisions ? Math.round((b.decisionStoredBytes - a.decisionStoredBytes) / (b.decisions - a.decisions)) : 0,
      };
    };

    console.log(`baseline: the service idle (fleet built, controls served, no samples) for ${args.baseline} s`);
    await settle();
    const b0 = await read();
    await sleep(Number(args.baseline) * 1000);
    await settle();
    const b1 = await read();
    const baseline = window(b0, b1);

    executors.send({ start: true });
    console.log(`sampling every 5 s; warming up ${args.warmup} s`);
    await sleep(Number(args.warmup) * 1000);
    const l0 = await read();
    await sleep(Number(args.seconds) * 1000);
    await settle();
    const l1 = await read();
    const load = window(l0, l1);
    const warnings = out.split('\n').filter((l) => /"level":"(warn|error)"/.test(l));
    if (warnings.length > 0) console.log(`telemetry logged ${warnings.length} warnings, the last: ${warnings.at(-1)?.slice(0, 600)}`);
    const rounds = out
      .split('\n')
      .filter((l) => l.includes('"msg":"policy round"'))
      .map((l) => JSON.parse(l) as Record<string, number>)
      .slice(-Math.floor(Number(args.seconds) / 10));
    if (rounds.length > 0) {
      const avg = (k: string): number => Math.round(rounds.reduce((s, r) => s + (r[k] ?? 0), 0) / rounds.length);
      const keys = [
        'hosts',
        'inFlight',
        'stale',
        'changed',
        'unchanged',
        'failed',
        'superseded',
        'appendMillis',
        'sendMillis',
        'evaluatedMillis',
        'settledMillis',
      ];
      console.log(`policy rounds (last ${rounds.length}, average): ${keys.map((k) => `${k} ${avg(k)}`).join(', ')}`);
      const skipped = out.split('\n').filter((l) => l.includes('policy round skipped')).length;
      if (skipped > 0) console.log(`policy rounds skipped while the previous one was evaluating: ${skipped}`);
    }
    console.log(`baseline window: ${JSON.stringify(baseline)}`);
    console.log(`load window:     ${JSON.stringify(load)}`);
    const expectedSamples = HOSTS / 5;
    const expectedIntervals = HOSTS / 10;
    const rowsTotal = Object.values(load.rowsInserted).reduce((x, y) => x + y, 0);
    return {
      cpuPercentAt1000Hosts: load.cpuPercent,
      baselineCpuPercent: baseline.cpuPercent,
      postgresStatementsPerSecond: load.postgresStatementsPerSecond,
      baselinePostgresStatementsPerSecond: baseline.postgresStatementsPerSecond,
      // Every row inserted in the load window is a log event (decision or batched quiet record): none is a sample.
      rowsInsertedPerSecond: Math.round((rowsTotal / load.seconds) * 10) / 10,
      // Rows in tables other than the log's own (events, streams): samples would land there; 0.
      rowsOutsideTheLog: rowsTotal - (load.rowsInserted['events'] ?? 0) - (load.rowsInserted['streams'] ?? 0),
      logEventsAppendedPerSecond: Math.round((load.logEventsAppended / load.seconds) * 10) / 10,
      samplesPerSecond: load.samplesPerSecond,
      entitySamplesPerSecond: Math.round(load.samplesPerSecond * (VMS + 1)),
      hostIntervalsPerSecond: load.hostIntervalsPerSecond,
      failedIntervalsPerSecond: load.failedIntervalsPerSecond,
      decisionsPerSecond: load.decisionsPerSecond,
      // A decision's data (JSON text, and as Postgres stores it), averaged over the window's decisions.
      jsonBytesPerDecision: load.jsonBytesPerDecision,
      storedBytesPerDecision: load.storedBytesPerDecision,
      // The policy loop waits its interval after a round ends (as MOM's), so 100 host intervals/s is a ceiling.
      intervalCoverage: Math.round((load.hostIntervalsPerSecond / expectedIntervals) * 100) / 100,
      keptUp: load.samplesPerSecond >= 0.95 * expectedSamples && load.hostIntervalsPerSecond >= 0.9 * expectedIntervals,
      hosts: HOSTS,
      vms: HOSTS * VMS,
      nice,
      serviceFlags: args['service-flags'],
      serviceBuilt: service.built,
    };
  } finally {
    sampleSub.unsubscribe();
    await admin.end().catch(() => undefined);
    if (executors && executors.exitCode === null) {
      executors.send({ stop: true });
      await new Promise((r) => executors!.once('exit', r));
    }
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
  `telemetry at ${String(fleet['hosts'])} hosts × ${VMS} VMs: ${String(fleet['cpuPercentAt1000Hosts'])}% of a core (idle baseline ${String(fleet['baselineCpuPercent'])}%), ` +
    `${String(fleet['samplesPerSecond'])} host samples/s, ${String(fleet['hostIntervalsPerSecond'])} host intervals/s, ` +
    `${String(fleet['postgresStatementsPerSecond'])} Postgres statements/s (idle ${String(fleet['baselinePostgresStatementsPerSecond'])}), ` +
    `${String(fleet['jsonBytesPerDecision'])} bytes/decision (stored ${String(fleet['storedBytesPerDecision'])}), ` +
    `rows outside the log: ${String(fleet['rowsOutsideTheLog'])}; kept up: ${String(fleet['keptUp'])}`,
);
console.log(JSON.stringify({ ...evals, ...fleet, loadAverage: loadavg()[0] }));
process.exit(0);
