/**
 * The soak (issue 16): fixed-rate churn (composes, deletes, stops, starts, migrations) on the whole
 * plane over simulated hosts, for N minutes. Every minute one line: throughput and p50/p99 per
 * operation for that minute, each process's heap and RSS (a preloaded probe, memory-probe.mjs),
 * Postgres table+index sizes, JetStream stream sizes. At the end: least-squares slopes of p99 and
 * memory over the minutes, growth per lifecycle operation and per VM-day, the audit of audit.ts,
 * and the failures (answers other than OK and the refusals a random client earns).
 */
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
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
  for (const db of ['berth_inventory', 'berth_executor', 'berth_migration']) {
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

function memoryOf(plane: Plane, dir: string): Record<string, { heapMiB: number; rssMiB: number }> {
  const files = new Set(readdirSync(dir));
  const out: Record<string, { heapMiB: number; rssMiB: number }> = {};
  for (const [name, h] of plane.services) {
    if (!files.has(`${h.pid}.json`)) continue;
    const m = JSON.parse(readFileSync(join(dir, `${h.pid}.json`), 'utf8')) as { heapUsed: number; rss: number };
    out[name] = { heapMiB: +(m.heapUsed / MiB).toFixed(1), rssMiB: +(m.rss / MiB).toFixed(1) };
  }
  return out;
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

export async function runSoak(opts: { minutes: number; rate: number; log?: (l: string) => void }) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const probeDir = mkdtempSync(join(tmpdir(), 'berth-soak-mem-'));
  process.env['BERTH_MEMORY_PROBE_DIR'] = probeDir;
  process.env['E2E_NODE_ARGS'] = `--import ${new URL('./memory-probe.mjs', import.meta.url).pathname}`;
  const plane = await Plane.start({ hosts: 8, hostCpus: 32, hostMemoryGiB: 128 });
  const load = new Load(plane, { label: 'soak', maxInFlight: 64 });
  const minutes: Record<string, unknown>[] = [];
  const memory: Record<string, { heap: number[]; rss: number[] }> = {};
  const p99s: Record<string, number[]> = {};
  let vmMinutes = 0;
  try {
    const before = await tableSizes(plane);
    load.start(opts.rate);
    for (let m = 1; m <= opts.minutes; m++) {
      const from = load.ops.length;
      await new Promise((r) => setTimeout(r, 60_000));
      const ops = load.ops.slice(from);
      const stats = minuteStats(ops);
      const mem = memoryOf(plane, probeDir);
      const vms = (await callUnary(plane.inventory, 'listVms', { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_UNSPECIFIED })).vms;
      const live = vms.filter(
        (v) => v.status === inventoryV1.VmStatus.VM_STATUS_RUNNING || v.status === inventoryV1.VmStatus.VM_STATUS_STOPPED,
      ).length;
      vmMinutes += live;
      for (const [k, s] of Object.entries(stats)) (p99s[k] ??= []).push(s.p99);
      for (const [svc, v] of Object.entries(mem)) {
        const e = (memory[svc] ??= { heap: [], rss: [] });
        e.heap.push(v.heapMiB);
        e.rss.push(v.rssMiB);
      }
      const failures = ops.filter((o) => !EXPECTED.has(o.code)).length;
      const line = {
        minute: m,
        opsOk: ops.filter((o) => o.code === 'OK').length,
        failures,
        liveVms: live,
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
      memorySlopeMiBPerMinute: Object.fromEntries(
        Object.entries(memory).map(([k, v]) => [k, { heap: +slope(v.heap).toFixed(3), rss: +slope(v.rss).toFixed(3) }]),
      ),
      postgresBytes: after,
      postgresGrowthBytes: grown,
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
