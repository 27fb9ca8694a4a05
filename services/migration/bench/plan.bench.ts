/**
 * bench:migration:plan — the planner alone: the fleet of bench:migration (500 hosts of 48 CPUs ×2 and
 * 256 GiB, 10,000 VMs of 1–4 vCPUs and 1–8 GiB, same seed) plus one 128-CPU host with 100 VMs, whose
 * evacuation is planned `--plans` times over the shared view (as the service plans). Prints the wall
 * and CPU time per plan; the last line is one JSON object. No I/O in the loop: a profile of this
 * (`node --cpu-prof --import tsx services/migration/bench/plan.bench.ts`) is the planner's profile.
 *
 *   npm run bench:migration:plan -- [--hosts 500] [--vms 10000] [--plans 200] [--warmup 20] [--seed 7]
 */
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { createHash } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { hostSnapshot, vmSpec } from '@berth/fit';
import { FakeInventory } from '../src/testing/in-memory-ports.ts';
import { DEFAULT_CAPS } from '../src/domain/caps/caps.ts';
import { benchPriority } from './priority.ts';
import { planEvacuation } from '../src/domain/evacuation/plan.ts';

const { values: args } = parseArgs({
  options: {
    hosts: { type: 'string', default: '500' },
    vms: { type: 'string', default: '10000' },
    plans: { type: 'string', default: '200' },
    warmup: { type: 'string', default: '20' },
    pause: { type: 'string', default: '0' },
    seed: { type: 'string', default: '7' },
    nice: { type: 'string', default: '-10' },
  },
});
// The benchmark's fixed priority (priority.ts): nice -10 in a session of its own; --nice 0 runs it as started.
const priority = benchPriority(Number(args.nice));
const HOSTS = Number(args.hosts);
const VMS = Number(args.vms);
const GiB = 1024 ** 3;

let seed = Number(args.seed);
const random = (): number => {
  seed = (seed * 1103515245 + 12345) % 2 ** 31;
  return seed / 2 ** 31;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)]!;
const quantile = (xs: number[], q: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(q * s.length))] ?? 0;
};

const inventory = new FakeInventory();
const hostIds = Array.from({ length: HOSTS }, (_, i) => `sim-${String(i).padStart(4, '0')}`);
for (const hostId of hostIds) inventory.addHost(hostSnapshot({ hostId, cpus: 48, memoryBytes: 256 * GiB, cpuOvercommit: 2 }));
for (let i = 0; i < VMS; i++) {
  const spec = vmSpec({
    vmId: `vm-${i}`,
    vcpus: pick([1, 1, 2, 2, 4]),
    memoryBytes: pick([1, 2, 4, 8]) * GiB,
    priority: pick([0, 0, 0, 5, 10]),
  });
  inventory.place(hostIds[i % HOSTS]!, spec);
}
const big = 'sim-big';
inventory.addHost(hostSnapshot({ hostId: big, cpus: 128, memoryBytes: 1024 * GiB, cpuOvercommit: 2 }));
for (let i = 0; i < 100; i++)
  inventory.place(big, vmSpec({ vmId: `big-${i}`, vcpus: pick([1, 2, 4]), memoryBytes: pick([1, 2, 4, 8]) * GiB, priority: pick([0, 5]) }));

const view = await inventory.view();
const vms = await inventory.evacuees(big);
const wall: number[] = [];
const cpu: number[] = [];
// The warm-up plans (the first ones run before the JIT has optimised the code) are not in the
// percentiles; they are reported on their own (warmup), never dropped silently.
const warmWall: number[] = [];
const warmCpu: number[] = [];
let first: string | undefined;
const PLANS = Number(args.plans);
const WARMUP = Number(args.warmup);
const started = performance.now();
const PAUSE = Number(args.pause);
for (let i = 0; i < WARMUP + PLANS; i++) {
  if (PAUSE > 0) await sleep(PAUSE);
  const t = performance.now();
  const c = process.cpuUsage();
  const p = planEvacuation({ hostId: big, view, vms, trigger: 'operator', caps: DEFAULT_CAPS });
  const used = process.cpuUsage(c);
  const elapsed = performance.now() - t;
  (i >= WARMUP ? cpu : warmCpu).push((used.user + used.system) / 1000);
  (i >= WARMUP ? wall : warmWall).push(elapsed);
  if (p.moves.length !== 100) throw new Error(`plan of the 100-VM host moved ${p.moves.length}`);
  // The same view, the same input: every plan must be the same (the view is left as it was). The
  // digest of the whole plan (claims and reasons included) compares versions of the planner.
  const key = createHash('sha256').update(JSON.stringify(p)).digest('hex').slice(0, 16);
  if (first === undefined) first = key;
  else if (key !== first) throw new Error('a plan differs from the first over the same view');
}
const result = {
  plans: PLANS,
  vmsPerPlan: 100,
  planMillis: { p50: +quantile(wall, 0.5).toFixed(2), p99: +quantile(wall, 0.99).toFixed(2) },
  planCpuMillis: {
    p50: +quantile(cpu, 0.5).toFixed(2),
    p99: +quantile(cpu, 0.99).toFixed(2),
    // Of the measured plans (until session 9 this was the whole loop's CPU over warm-up and measured
    // plans, the digest below included).
    mean: +(cpu.reduce((a, b) => a + b, 0) / cpu.length).toFixed(2),
  },
  warmup: {
    plans: WARMUP,
    firstWallMillis: warmWall.slice(0, 5).map((x) => +x.toFixed(2)),
    firstCpuMillis: warmCpu.slice(0, 5).map((x) => +x.toFixed(2)),
    maxWallMillis: +Math.max(0, ...warmWall).toFixed(2),
  },
  wallSeconds: +((performance.now() - started) / 1000).toFixed(2),
  loadAverage: +loadavg()[0]!.toFixed(1),
  priority,
  planDigest: first!,
};
console.log(
  `${PLANS} plans of a 100-VM host in ${HOSTS} hosts: wall p50 ${result.planMillis.p50} / p99 ${result.planMillis.p99} ms, CPU p50 ${result.planCpuMillis.p50} ms (load ${result.loadAverage})`,
);
console.log(JSON.stringify(result));
