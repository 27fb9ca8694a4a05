/**
 * The soak (issue 16): fixed-rate churn (composes, deletes, stops, starts, migrations) on the whole
 * plane over simulated hosts, for N minutes. Every minute one line: throughput and p50/p99 per
 * operation for that minute, each process's heap and RSS (a preloaded probe, memory-probe.mjs),
 * Postgres table+index sizes, JetStream stream sizes. At the end: least-squares slopes of p99 and
 * memory over the minutes, growth per lifecycle operation and per VM-day, the audit of audit.ts,
 * and the failures (answers other than OK and the refusals a random client earns).
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { inventoryV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { audit, settle } from './audit.ts';
import { Load, OP_KINDS, type OpRecord } from './load.ts';
import { Plane } from './plane.ts';

/** Answers a client picking random VMs earns without anything being wrong (stop a stopped VM, ...). */
const EXPECTED = new Set(['OK', 'FAILED_PRECONDITION', 'NOT_FOUND']);
const MiB = 1024 ** 2;

const pct = (xs: number[], p: number): number => {
  if (xs.length === 0) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
/** Least-squares slope of ys over xs. */
export const slope = (ys: readonly number[]): number => {
  const n = ys.length;
  if (n < 2) return 0;
  const mx = (n - 1) / 2;
  const my = ys.reduce((a, b) => a + b, 0) / n;
  let num = 0;
  let den = 0;
  ys.forEach((y, x) => ((num += (x - mx) * (y - my)), (den += (x - mx) ** 2)));
  return num / den;
};

async function tableSizes(plane: Plane): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  // Telemetry's decision log grows with hosts x policy intervals, not with VM operations: measured too.
  for (const db of ['berth_inventory', 'berth_executor', 'berth_migration', 'berth_telemetry']) {
    const c = new pg.Client({ connectionString: plane.pg.url(db) });
    await c.connect();
    try {
      const r = await c.query<{ name: string; bytes: string }>(
        `SELECT n.nspname || '.' || c.relname AS name, pg_total_relation_size(c.oid) AS bytes
           FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
      );
      for (const row of r.rows) out[`${db}.${row.name}`] = Number(row.bytes);
    } finally {
      await c.end();
    }
  }
  return out;
}

/** Growth of each database (the part of a `tableSizes` key before its first dot), bytes. */
export function growthByDatabase(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const db = k.split('.')[0]!;
    out[db] = (out[db] ?? 0) + v - (before[k] ?? 0);
  }
  return out;
}

async function streamSizes(natsUrl: string): Promise<Record<string, { messages: number; bytes: number }>> {
  const nc = await connect({ servers: natsUrl });
  const out: Record<string, { messages: number; bytes: number }> = {};
  try {
    const jsm = await jetstreamManager(nc);
    for await (const s of jsm.streams.list()) out[s.config.name] = { messages: s.state.messages, bytes: s.state.bytes };
  } finally {
    await nc.close();
  }
  return out;
}

/** One process's memory, MiB: from its probe (inside) and /proc/<pid>/status (anonymous vs file-backed RSS). */
export interface ProcessMemory {
  heapMiB: number;
  heapTotalMiB: number;
  /** Memory V8 accounts outside its heap (Buffers of sockets, pg, NATS, gRPC; arrayBuffers is part of it). */
  externalMiB: number;
  arrayBuffersMiB: number;
  rssMiB: number;
  /** RSS of anonymous pages (malloc arenas, V8's heap) and of file-backed pages (node's binary, shared libraries). */
  rssAnonMiB: number;
  rssFileMiB: number;
  /** Committed V8 young and old generation (heapTotal is mostly their sum). */
  newSpaceMiB: number;
  oldSpaceMiB: number;
  /** Anonymous RSS outside V8's committed heap: malloc (glibc arenas), native buffers, code. */
  outsideHeapMiB: number;
}
const MEMORY_KEYS = [
  'heapMiB',
  'heapTotalMiB',
  'newSpaceMiB',
  'oldSpaceMiB',
  'externalMiB',
  'arrayBuffersMiB',
  'rssMiB',
  'rssAnonMiB',
  'rssFileMiB',
  'outsideHeapMiB',
] as const;

function statusKiB(pid: number, key: string): number {
  try {
    const m = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

function memoryOf(plane: Plane, dir: string): Record<string, ProcessMemory> {
  const files = new Set(readdirSync(dir));
  const out: Record<string, ProcessMemory> = {};
  const mib = (b: number): number => +(b / MiB).toFixed(1);
  for (const [name, h] of plane.services) {
    if (!files.has(`${h.pid}.json`)) continue;
    const m = JSON.parse(readFileSync(join(dir, `${h.pid}.json`), 'utf8')) as {
      heapUsed: number;
      heapTotal: number;
      external: number;
      arrayBuffers: number;
      rss: number;
      newSpace?: number;
      oldSpace?: number;
    };
    const rssAnon = statusKiB(h.pid, 'RssAnon') * 1024;
    out[name] = {
      heapMiB: mib(m.heapUsed),
      heapTotalMiB: mib(m.heapTotal),
      externalMiB: mib(m.external),
      arrayBuffersMiB: mib(m.arrayBuffers),
      rssMiB: mib(m.rss),
      rssAnonMiB: mib(rssAnon),
      rssFileMiB: mib(statusKiB(h.pid, 'RssFile') * 1024),
      newSpaceMiB: mib(m.newSpace ?? 0),
      oldSpaceMiB: mib(m.oldSpace ?? 0),
      outsideHeapMiB: mib(rssAnon - m.heapTotal),
    };
  }
  return out;
}

/** Least-squares slope of each memory figure, MiB per minute, over minutes [from, end). */
function memorySlopes(memory: Record<string, Record<string, number[]>>, from = 0) {
  return Object.fromEntries(
    Object.entries(memory).map(([svc, series]) => [
      svc,
      Object.fromEntries(MEMORY_KEYS.map((k) => [k.replace(/MiB$/, ''), +slope((series[k] ?? []).slice(from)).toFixed(3)])),
    ]),
  );
}

async function liveVms(plane: Plane): Promise<number> {
  const { vms } = await callUnary(
    plane.inventory,
    'listVms',
    { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_UNSPECIFIED },
    { deadline: Date.now() + 30_000 },
  );
  return vms.filter((v) => v.status === inventoryV1.VmStatus.VM_STATUS_RUNNING || v.status === inventoryV1.VmStatus.VM_STATUS_STOPPED)
    .length;
}

function minuteStats(ops: readonly OpRecord[]) {
  const per: Record<string, { n: number; ok: number; p50: number; p99: number }> = {};
  for (const k of OP_KINDS) {
    const mine = ops.filter((o) => o.kind === k);
    const ms = mine.filter((o) => o.code === 'OK').map((o) => o.millis);
    per[k] = { n: mine.length, ok: ms.length, p50: pct(ms, 50), p99: pct(ms, 99) };
  }
  return per;
}

export async function runSoak(opts: {
  minutes: number;
  rate: number;
  /** Added to every service's environment (`--service-env K=V`), e.g. MALLOC_ARENA_MAX. */
  serviceEnv?: Readonly<Record<string, string>>;
  log?: (l: string) => void;
}) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const probeDir = mkdtempSync(join(tmpdir(), 'berth-soak-mem-'));
  process.env['BERTH_MEMORY_PROBE_DIR'] = probeDir;
  process.env['E2E_NODE_ARGS'] = `--import ${new URL('./memory-probe.mjs', import.meta.url).pathname}`;
  const plane = await Plane.start({
    hosts: 8,
    hostCpus: 32,
    hostMemoryGiB: 128,
    ...(opts.serviceEnv ? { serviceEnv: opts.serviceEnv } : {}),
  });
  const load = new Load(plane, { label: 'soak', maxInFlight: 64 });
  const minutes: Record<string, unknown>[] = [];
  const memory: Record<string, Record<string, number[]>> = {};
  const loads: number[] = [];
  const p99s: Record<string, number[]> = {};
  let vmMinutes = 0;
  let lastLive = 0;
  try {
    const before = await tableSizes(plane);
    load.start(opts.rate);
    for (let m = 1; m <= opts.minutes; m++) {
      const from = load.ops.length;
      await new Promise((r) => setTimeout(r, 60_000));
      const ops = load.ops.slice(from);
      const stats = minuteStats(ops);
      const mem = memoryOf(plane, probeDir);
      // The soak's own look at the fleet: on a loaded machine it may miss its deadline; that minute
      // then counts the last known number (the churn's answers, not this, are what the soak judges).
      const live = await liveVms(plane).catch((e: unknown) => {
        log(`minute ${m}: ListVms failed (${e instanceof Error ? e.message : String(e)}); counting ${lastLive} live VMs`);
        return lastLive;
      });
      lastLive = live;
      vmMinutes += live;
      for (const [k, s] of Object.entries(stats)) (p99s[k] ??= []).push(s.p99);
      for (const [svc, v] of Object.entries(mem)) {
        const e = (memory[svc] ??= {});
        for (const k of MEMORY_KEYS) (e[k] ??= []).push(v[k]);
      }
      const load1 = +loadavg()[0]!.toFixed(1);
      loads.push(load1);
      const failures = ops.filter((o) => !EXPECTED.has(o.code)).length;
      const line = {
        minute: m,
        opsOk: ops.filter((o) => o.code === 'OK').length,
        failures,
        liveVms: live,
        loadAverage: load1,
        latencyMillis: stats,
        memory: mem,
      };
      minutes.push(line);
      log(JSON.stringify(line));
    }
    await load.stop();
    const open = await settle(plane, 120_000);
    const report = await audit(plane, load, 0, open);
    const after = await tableSizes(plane);
    const streams = await streamSizes(plane.nats.url);
    const grown = Object.keys(after).reduce((n, k) => n + (after[k]! - (before[k] ?? 0)), 0);
    const okOps = load.ops.filter((o) => o.code === 'OK').length;
    const failures: Record<string, number> = {};
    for (const o of load.ops) if (!EXPECTED.has(o.code)) failures[`${o.kind}:${o.code}`] = (failures[`${o.kind}:${o.code}`] ?? 0) + 1;
    return {
      minutes: opts.minutes,
      ratePerSecond: opts.rate,
      throughputOpsPerMinute: +(okOps / opts.minutes).toFixed(1),
      perMinute: minutes,
      p99SlopeMillisPerMinute: Object.fromEntries(Object.entries(p99s).map(([k, v]) => [k, +slope(v).toFixed(2)])),
      serviceEnv: opts.serviceEnv ?? {},
      loadAverage: { min: Math.min(...loads), max: Math.max(...loads) },
      memorySlopeMiBPerMinute: memorySlopes(memory),
      // The fleet fills in the first minutes (memory rises with the live VMs); the second half is the steady state.
      memorySlopeSecondHalfMiBPerMinute: memorySlopes(memory, Math.floor(opts.minutes / 2)),
      postgresBytes: after,
      postgresGrowthBytes: grown,
      postgresGrowthBytesByDatabase: growthByDatabase(before, after),
      growthBytesPerOk: okOps > 0 ? Math.round(grown / okOps) : 0,
      growthBytesPerVmDay: vmMinutes > 0 ? Math.round(grown / (vmMinutes / 1440)) : 0,
      jetstream: streams,
      failures,
      audit: report,
    };
  } finally {
    await load.stop();
    await plane.destroy();
  }
}
