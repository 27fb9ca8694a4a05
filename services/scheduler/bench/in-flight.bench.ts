/**
 * The scheduler's application as the service runs it, without the network: placeVm over the scoring
 * engine behind the in-flight view (reservations, remembered claims), 64 placements in hand at once,
 * and a stand-in for inventory that answers the claims of each "batch" together (re-checking each
 * claim against its host as inventory does: a claim at an older generation is taken when it still
 * fits) and puts the touched hosts' snapshots into the bucket, which the view takes in one batch
 * later through the KV watch's applyEntry (JSON, as the watch gets it). Defaults follow `bench:e2e`
 * (200 hosts of 30 CPUs, spread, 16 alternates, a host subset of 16, VMs of 1 vCPU / 1 GiB and every
 * fourth 2 / 2 GiB). Inventory's own work (re-check, applying the claim, writing the snapshot JSON)
 * is measured (CPU) and left out of the CPU figure.
 *   npx tsx services/scheduler/bench/in-flight.bench.ts [--hosts 200] [--vms 1500] [--rounds 5] [--concurrency 64] [--profile FILE]
 * Last line: one JSON object: coldMicrosPerVm, the main thread's CPU per placement in the first round
 * after its warm-up (a fresh process, as in bench:e2e; coldProcessMicrosPerVm with the JIT and GC
 * threads), and warmMicrosPerVm, the median of the later rounds.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { parseArgs } from 'node:util';
import { applyClaim, claimFits, hostSnapshot, vmSpec, type HostSnapshot } from '@berth/fit';
import { HostView } from '@berth/scoring';
import { createLogger } from '@berth/observability';
import { DecisionLog } from '../src/application/decision-log.ts';
import { placeVm, type PlaceVmDeps } from '../src/application/place-vm.ts';
import type { ClaimOutcome, ClaimRequest, InventoryPort } from '../src/application/ports.ts';
import { applyEntry } from '../src/adapters/nats/snapshot-watch.ts';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from '../src/adapters/scoring/scoring-engine.ts';

// Absent from trees before the in-flight view (140df7e): the engine alone then, as that scheduler ran.
const inFlight = await import('../src/adapters/scoring/in-flight.ts').catch(() => undefined);
const GiB = 1024 ** 3;
const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '200' },
    vms: { type: 'string', default: '1500' },
    rounds: { type: 'string', default: '5' },
    concurrency: { type: 'string', default: '64' },
    // Placements of each round left out of its CPU figure (JIT warm-up in the first round, as bench:e2e's warm-up).
    warmup: { type: 'string', default: '500' },
    // A V8 CPU profile of the rounds (not of start-up), written to this file.
    profile: { type: 'string' },
  },
});
const HOSTS = Number(values.hosts);
const VMS = Number(values.vms);
const ROUNDS = Number(values.rounds);
const CONCURRENCY = Number(values.concurrency);
const WARMUP = Number(values.warmup);
const HOST_CPUS = Math.max(16, Math.ceil((VMS / HOSTS) * 4));
const logger = createLogger('in-flight-bench', { level: 'warn' });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Hosts rebuilt in the engine's view (HostView.upsert, and replace where it exists), counted across the code under test. */
let rebuilds = 0;
for (const name of ['upsert', 'replace'] as const) {
  const view = HostView.prototype as unknown as Record<string, (this: HostView, s: HostSnapshot) => void>;
  const original = view[name];
  if (original === undefined) continue;
  view[name] = function (this: HostView, s: HostSnapshot) {
    rebuilds++;
    original.call(this, s);
  };
}

/**
 * CPU time of this thread in µs (Linux: /proc/thread-self/schedstat, in ns), so the background
 * threads (JIT compilers, GC helpers) are left out; elsewhere the process's.
 */
const SCHEDSTAT = '/proc/thread-self/schedstat';
const threadMicros: () => number = existsSync(SCHEDSTAT)
  ? () => Number(readFileSync(SCHEDSTAT, 'latin1').split(' ')[0]) / 1000
  : () => {
      const u = process.cpuUsage();
      return u.user + u.system;
    };
const processMicros = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/** A small seeded generator (mulberry32): both trees draw the same numbers. */
function seeded(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Round {
  /** This thread's CPU per placement, inventory's share taken out. */
  readonly cpuMicrosPerVm: number;
  /** The same with the process's other threads (JIT compilers, GC helpers). */
  readonly processMicrosPerVm: number;
  readonly inventoryMicrosPerVm: number;
  readonly wallMillis: number;
  readonly claims: number;
  readonly refused: number;
  readonly updates: number;
  readonly rebuildsPerVm: number;
  readonly maxPerHost: number;
  readonly minPerHost: number;
}

async function round(seed: number): Promise<Round> {
  const scoring = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
  const engine = inFlight ? new inFlight.InFlightView(scoring) : scoring;
  const truth = new Map<string, HostSnapshot>();
  for (let i = 0; i < HOSTS; i++) {
    const h = hostSnapshot({ hostId: `sim-${String(i + 1).padStart(4, '0')}`, cpus: HOST_CPUS, memoryBytes: HOST_CPUS * GiB }, 1);
    truth.set(h.capacity.hostId, h);
    engine.upsert(JSON.parse(JSON.stringify(h)) as HostSnapshot);
  }
  let inventoryMicros = 0;
  let claims = 0;
  let refused = 0;
  let updates = 0;
  // Claims wait for the next batch; the batch's snapshots reach the view one batch later.
  let pending: { req: ClaimRequest; answer: (o: ClaimOutcome) => void }[] = [];
  let bucket: [string, Uint8Array][] = [];
  let scheduled = false;
  const batch = () => {
    scheduled = false;
    for (const [key, value] of bucket.splice(0)) {
      applyEntry(engine, { operation: 'PUT', key, value, json: <T>() => JSON.parse(decoder.decode(value)) as T }, logger);
      updates++;
    }
    const c0 = threadMicros();
    const touched = new Set<string>();
    const answers: (() => void)[] = [];
    for (const { req, answer } of pending.splice(0)) {
      const h = truth.get(req.hostId)!;
      const failures = claimFits(h, req.claim);
      let outcome: ClaimOutcome;
      if (req.expectedGeneration !== h.generation && (req.expectedGeneration > h.generation || failures.length > 0)) {
        outcome = { kind: 'generation-moved', detail: `at ${h.generation}` };
      } else if (failures.length > 0) {
        outcome = { kind: 'no-longer-fits', detail: failures[0]!.detail };
      } else {
        const next = applyClaim(h, req.claim);
        truth.set(req.hostId, next);
        touched.add(req.hostId);
        outcome = { kind: 'claimed', generation: next.generation };
      }
      if (outcome.kind !== 'claimed') refused++;
      answers.push(() => answer(outcome));
    }
    for (const id of touched) bucket.push([id, encoder.encode(JSON.stringify(truth.get(id)))]);
    inventoryMicros += threadMicros() - c0;
    for (const a of answers) a();
    if (bucket.length > 0) schedule();
  };
  const schedule = () => {
    if (!scheduled) {
      scheduled = true;
      setImmediate(batch);
    }
  };
  const inventory: InventoryPort = {
    claim(req) {
      claims++;
      return new Promise((answer) => {
        pending.push({ req, answer });
        schedule();
      });
    },
    async reportPlacementFailed() {
      return 'recorded';
    },
  };
  const deps: PlaceVmDeps = {
    engine,
    view: engine,
    ...(engine instanceof ScoringEngine ? {} : { reservations: engine }),
    source: { get: async (id) => JSON.parse(JSON.stringify(truth.get(id))) as HostSnapshot },
    inventory,
    decisions: new DecisionLog(10_000),
    maxAttempts: 5,
    alternates: 16,
    hostSubsetSize: 16,
    random: seeded(seed),
    now: () => new Date(),
  };
  const specs = Array.from({ length: VMS }, (_, i) => {
    const big = i % 4 === 3;
    return vmSpec({ vmId: `vm-${i}`, vcpus: big ? 2 : 1, memoryBytes: (big ? 2 : 1) * GiB });
  });

  let next = 0;
  let thread = threadMicros();
  let cpu = processMicros();
  let wall = performance.now();
  const worker = async () => {
    while (next < specs.length) {
      const i = next++;
      if (i === WARMUP) {
        // The measured part starts with the placement after the warm-up's.
        rebuilds = 0;
        inventoryMicros = 0;
        thread = threadMicros();
        cpu = processMicros();
        wall = performance.now();
      }
      const out = await placeVm(deps, { requestId: `req-${i}`, vm: specs[i]!, excludedHosts: [] }, true);
      if (out.kind !== 'placed') throw new Error(JSON.stringify(out));
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  while (bucket.length > 0 || scheduled) await new Promise((r) => setImmediate(r));
  const threadUsed = threadMicros() - thread;
  const processUsed = processMicros() - cpu;
  const wallMillis = Math.round(performance.now() - wall);
  pending = [];
  bucket = [];
  const micros = threadUsed - inventoryMicros;
  const measured = VMS - WARMUP;
  const perHost = [...truth.values()].map((h) => h.claims.length);
  return {
    cpuMicrosPerVm: Math.round((micros / measured) * 10) / 10,
    processMicrosPerVm: Math.round(((processUsed - inventoryMicros) / measured) * 10) / 10,
    inventoryMicrosPerVm: Math.round((inventoryMicros / measured) * 10) / 10,
    wallMillis,
    claims,
    refused,
    updates,
    rebuildsPerVm: Math.round((rebuilds / measured) * 100) / 100,
    maxPerHost: Math.max(...perHost),
    minPerHost: Math.min(...perHost),
  };
}

const session = values.profile === undefined ? undefined : new Session();
if (session) {
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 250 });
  await session.post('Profiler.start');
}
const rounds: Round[] = [];
// The first round is the cold one; the others run on a warm JIT.
for (let r = 0; r <= ROUNDS; r++) rounds.push(await round(r + 1));
if (session) {
  const { profile } = await session.post('Profiler.stop');
  writeFileSync(values.profile!, JSON.stringify(profile));
  session.disconnect();
}
const warm = rounds.slice(1);
const sorted = warm.map((r) => r.cpuMicrosPerVm).sort((a, b) => a - b);
for (const r of rounds) console.log(JSON.stringify(r));
console.log(
  JSON.stringify({
    hosts: HOSTS,
    vms: VMS,
    warmup: WARMUP,
    concurrency: CONCURRENCY,
    /** The first round's placements after its warm-up, in a fresh process (what bench:e2e's scheduler does). */
    coldMicrosPerVm: rounds[0]!.cpuMicrosPerVm,
    coldProcessMicrosPerVm: rounds[0]!.processMicrosPerVm,
    /** The median of the later rounds. */
    warmMicrosPerVm: sorted[Math.floor(sorted.length / 2)],
  }),
);
