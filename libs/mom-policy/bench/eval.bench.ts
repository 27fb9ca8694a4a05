/**
 * Policy evaluation benchmark: one host with 50 guests under Berth's stock-shaped policy set
 * (fixtures/ — the shape and size of vdsm's 00-defines..05-iotune), each guest with a history of 10
 * samples, the host under memory pressure so ballooning, KSM, CPU and I/O tuning all act.
 * Prints evaluations per second (CPU time of this single-threaded process) and the p99 wall time of
 * one evaluation; the last line is one JSON object.
 *   npx tsx libs/mom-policy/bench/eval.bench.ts [--guests 50] [--seconds 5]
 */
import { readdirSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { evaluateInterval, loadPolicySet, type EvalInput, type GuestInput } from '../src/index.ts';

const { values } = parseArgs({ options: { guests: { type: 'string', default: '50' }, seconds: { type: 'string', default: '5' } } });
const guestCount = Number(values.guests);
const seconds = Number(values.seconds);

const dir = new URL('../fixtures/', import.meta.url);
const set = loadPolicySet(
  readdirSync(dir)
    .filter((n) => n.endsWith('.policy'))
    .map((name) => ({ name, text: readFileSync(new URL(name, dir), 'utf8') })),
);

const HISTORY = 10;
const limits = { total_bytes_sec: 0, read_bytes_sec: 0, write_bytes_sec: 0, total_iops_sec: 0, read_iops_sec: 0, write_iops_sec: 0 };
const maximum = { ...limits, total_bytes_sec: 100_000_000, total_iops_sec: 2000 };
function hostSample(i: number): Record<string, number> {
  return {
    mem_available: 256_000_000,
    mem_unused: 20_000_000,
    mem_free: 38_000_000 + i * 100_000,
    swap_in: 0,
    swap_out: 0,
    anon_pages: 180_000_000,
    swap_total: 8_000_000,
    swap_usage: 0,
    ksm_full_scans: 12,
    ksm_pages_sharing: 1000,
    ksm_pages_unshared: 500,
    ksm_run: 1,
    ksm_pages_shared: 200,
    ksm_pages_to_scan: 100,
    ksm_pages_volatile: 0,
    ksm_sleep_millisecs: 20,
    ksm_merge_across_nodes: 1,
    ksm_shareable: 50_000_000,
    ksmd_cpu_usage: 3,
    cpu_count: 64,
  };
}
function guest(g: number): GuestInput {
  const cur = 2_000_000 + (g % 7) * 500_000;
  const history = Array.from({ length: HISTORY }, (_, i) => ({
    balloon_cur: cur,
    balloon_max: 8_000_000,
    balloon_min: 1_000_000,
    mem_available: cur,
    mem_unused: 300_000 + ((g * 31 + i * 17) % 11) * 50_000,
    major_fault: 0,
    minor_fault: 100 + i,
    swap_in: 0,
    swap_out: 0,
    swap_total: 1_000_000,
    swap_usage: 0,
    vcpu_quota: -1,
    vcpu_period: 100_000,
    vcpu_user_limit: g % 3 === 0 ? 100 : 25 + (g % 50),
    vcpu_count: 1 + (g % 8),
    io_tune: [{ name: 'vda', path: `/images/vm${g}/vda`, guaranteed: limits, maximum, current: { ...limits } }],
    io_tune_current: [{ name: 'vda', path: `/images/vm${g}/vda`, ioTune: limits }],
  }));
  return { name: `vm${g}`, uuid: `00000000-0000-0000-0000-${String(g).padStart(12, '0')}`, history };
}
const input: EvalInput = {
  host: Array.from({ length: HISTORY }, (_, i) => hostSample(i)),
  guests: Array.from({ length: guestCount }, (_, g) => guest(g)),
};

const first = evaluateInterval(set, input);
if (first.ok !== true) throw new Error(`the benchmark's interval failed: ${first.error}`);
const controls = Object.values(first.guests).reduce((n, c) => n + Object.keys(c).length, Object.keys(first.host).length);

for (let i = 0; i < 200; i++) evaluateInterval(set, input); // warm up
const millis: number[] = [];
const cpu0 = process.cpuUsage();
const until = performance.now() + seconds * 1000;
while (performance.now() < until) {
  const t0 = performance.now();
  evaluateInterval(set, input);
  millis.push(performance.now() - t0);
}
const cpu = process.cpuUsage(cpu0);
const cpuSeconds = (cpu.user + cpu.system) / 1e6;
millis.sort((a, b) => a - b);
const pct = (p: number) => millis[Math.min(millis.length - 1, Math.floor((p / 100) * millis.length))]!;
const result = {
  guests: guestCount,
  historyLength: HISTORY,
  policyFiles: set.files.length,
  controlsPerEvaluation: controls,
  evaluations: millis.length,
  evaluationsPerSecond: Math.round(millis.length / cpuSeconds),
  p50Millis: Number(pct(50).toFixed(3)),
  p99Millis: Number(pct(99).toFixed(3)),
};
console.log(
  `${result.evaluations} evaluations of 1 host + ${guestCount} guests (${controls} controls each): ${result.evaluationsPerSecond}/s of CPU, p50 ${result.p50Millis} ms, p99 ${result.p99Millis} ms`,
);
console.log(JSON.stringify(result));
