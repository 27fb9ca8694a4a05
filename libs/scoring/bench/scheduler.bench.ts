/**
 * Scheduler benchmark: places a seeded workload (see workload.ts) with the full engine under the
 * pack policy, updating the view after each placement, and compares it with a roofline loop that
 * only checks vCPU and memory fit and takes the least loaded host. Last line: one JSON object.
 *   npm run bench:scheduler -- --hosts 5000 --vms 20000 [--seed 7] [--policy pack|spread]
 */
import { allocatableVcpus, ordinaryMemoryCapacity, type HostSnapshot, type VmSpec } from '@berth/fit';
import { parseArgs } from 'node:util';
import { schedule } from '../src/schedule.ts';
import { HostView } from '../src/view.ts';
import type { PlacementPolicy } from '../src/weights.ts';
import { costFunctions, makeHosts, makeVms, profiles, rng } from './workload.ts';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '5000' },
    vms: { type: 'string', default: '20000' },
    seed: { type: 'string', default: '7' },
    policy: { type: 'string', default: 'pack' },
  },
});
const hostCount = Number(values.hosts);
const vmCount = Number(values.vms);
const seed = Number(values.seed);

const policy: PlacementPolicy = { kind: values.policy === 'spread' ? 'spread' : 'pack' };
const policyFor = (): PlacementPolicy => policy;

/**
 * Seconds of CPU this (single-threaded) process used: the machine is shared, so wall time would
 * measure the neighbours; CPU time is what one core spent. Latencies below are wall time.
 */
function cpuSeconds(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1e6;
}

function run(
  hosts: HostSnapshot[],
  vms: VmSpec[],
): { view: HostView; micros: Float64Array; seconds: number; wallSeconds: number; placed: number } {
  const view = new HostView(hosts, { costFunctions, profiles });
  const micros = new Float64Array(vms.length);
  let placed = 0;
  const cpu = process.cpuUsage();
  const start = performance.now();
  for (let i = 0; i < vms.length; i++) {
    const t0 = performance.now();
    const r = schedule(vms[i]!, view, { policyFor, alternates: 2 });
    if (r.kind === 'placed') {
      view.applyClaim(r.claim);
      placed++;
    }
    micros[i] = (performance.now() - t0) * 1000;
  }
  return { view, micros, seconds: cpuSeconds(cpu), wallSeconds: (performance.now() - start) / 1000, placed };
}

/** The minimal loop: vCPU and memory fit only, least loaded host, over the same hosts. */
function roofline(hosts: HostSnapshot[], vms: VmSpec[]): number {
  const enabled = hosts.filter((h) => h.capacity.state === 'enabled');
  const freeV = Float64Array.from(enabled, (h) => allocatableVcpus(h.capacity.cpus, h.capacity.cpuOvercommit));
  const freeM = Float64Array.from(enabled, (h) => ordinaryMemoryCapacity(h.capacity));
  const cpu = process.cpuUsage();
  for (const vm of vms) {
    let best = -1;
    for (let i = 0; i < freeV.length; i++) {
      if (freeV[i]! >= vm.vcpus && freeM[i]! >= vm.memoryBytes && (best < 0 || freeV[i]! > freeV[best]!)) best = i;
    }
    if (best >= 0) {
      freeV[best]! -= vm.vcpus;
      freeM[best]! -= vm.memoryBytes;
    }
  }
  return vms.length / cpuSeconds(cpu);
}

/** Per dimension, the fewest enabled hosts (largest first) whose capacity covers the demand; the largest count. */
function lowerBound(hosts: HostSnapshot[], placedVms: VmSpec[]): number {
  const enabled = hosts.filter((h) => h.capacity.state === 'enabled');
  const dims: [(h: HostSnapshot) => number, (v: VmSpec) => number][] = [
    [(h) => allocatableVcpus(h.capacity.cpus, h.capacity.cpuOvercommit), (v) => v.vcpus],
    [(h) => ordinaryMemoryCapacity(h.capacity), (v) => v.memoryBytes],
    [(h) => h.capacity.pciDevices.length, (v) => v.devices.reduce((s, d) => s + d.count, 0)],
  ];
  let bound = 0;
  for (const [cap, need] of dims) {
    const demand = placedVms.reduce((s, v) => s + need(v), 0);
    const caps = enabled.map(cap).sort((a, b) => b - a);
    let sum = 0;
    let n = 0;
    while (sum < demand && n < caps.length) sum += caps[n++]!;
    bound = Math.max(bound, n);
  }
  return bound;
}

const pct = (xs: Float64Array, p: number): number => {
  const sorted = Float64Array.from(xs).sort();
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!;
};

const random = rng(seed);
const hosts = makeHosts(hostCount, random);
const vms = makeVms(vmCount, random);

// Warm the JIT on a small separate fleet so the measured run is steady state.
run(makeHosts(500, rng(seed + 1)), makeVms(3000, rng(seed + 2)));

const result = run(hosts, vms);
const placementsPerSecond = vms.length / result.seconds;
const rooflinePlacementsPerSecond = roofline(hosts, vms);
const placedIds = new Set(result.view.all().flatMap((h) => h.claims.map((c) => c.vmId)));
const hostsUsed = result.view.all().filter((h) => h.claims.length > 0).length;
const lowerBoundHosts = lowerBound(
  hosts,
  vms.filter((v) => placedIds.has(v.vmId)),
);

console.log(
  `placed ${result.placed}/${vms.length} VMs on ${hostsUsed} of ${hostCount} hosts in ${result.seconds.toFixed(2)} s of CPU (${result.wallSeconds.toFixed(2)} s wall); ${result.view.classCount} host classes at the end`,
);
console.log(
  JSON.stringify({
    hosts: hostCount,
    vms: vmCount,
    policy: policy.kind,
    placed: result.placed,
    placementsPerSecond: Math.round(placementsPerSecond),
    wallPlacementsPerSecond: Math.round(vms.length / result.wallSeconds),
    p50Micros: Math.round(pct(result.micros, 0.5) * 10) / 10,
    p99Micros: Math.round(pct(result.micros, 0.99) * 10) / 10,
    rooflinePlacementsPerSecond: Math.round(rooflinePlacementsPerSecond),
    rooflineRatio: Math.round((rooflinePlacementsPerSecond / placementsPerSecond) * 100) / 100,
    hostsUsed,
    lowerBoundHosts,
    packingRatio: Math.round((hostsUsed / lowerBoundHosts) * 1000) / 1000,
  }),
);
