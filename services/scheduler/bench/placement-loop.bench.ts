/**
 * The scheduler's own work per VM, without the network: parse the VmRequested envelope, decide,
 * build the explanation and command id, encode the claim request (protobuf, as gRPC would), remember
 * the claim, and take in the bucket's update of the claimed host as the KV watch does. The claims go
 * to an in-process stand-in for inventory, whose time (applying the claim, writing the snapshot JSON)
 * is measured apart and left out. Defaults follow `bench:e2e` (200 hosts, spread, 16 alternates,
 * a host subset of 16, VMs of 1 vCPU / 1 GiB and every fourth 2 / 2 GiB).
 *   npm run bench -w @berth/scheduler -- [--hosts 200] [--vms 4000] [--rounds 5]
 * Last line: one JSON object; cpuMicrosPerVm is the best round (CPU time, the machine is shared).
 */
import { parseArgs } from 'node:util';
import { inventoryV1, type EventEnvelope } from '@berth/contracts';
import { applyClaim, hostSnapshot, vmSpec, type HostSnapshot } from '@berth/fit';
import { parseEnvelope } from '@berth/messaging';
import { createLogger } from '@berth/observability';
import { DecisionLog } from '../src/application/decision-log.ts';
import { placeVm, type PlaceVmDeps } from '../src/application/place-vm.ts';
import type { ClaimOutcome, ClaimRequest, InventoryPort } from '../src/application/ports.ts';
import { toClaimRequest } from '../src/adapters/grpc/inventory-client.ts';
import { applyEntry } from '../src/adapters/nats/snapshot-watch.ts';
import { parseVmRequested } from '../src/adapters/nats/vm-requested.ts';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from '../src/adapters/scoring/scoring-engine.ts';

const GiB = 1024 ** 3;
const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '200' },
    vms: { type: 'string', default: '4000' },
    rounds: { type: 'string', default: '5' },
  },
});
const HOSTS = Number(values.hosts);
const VMS = Number(values.vms);
const ROUNDS = Number(values.rounds);
const HOST_CPUS = Math.max(16, Math.ceil((VMS / HOSTS) * 4));
const logger = createLogger('placement-loop-bench', { level: 'warn' });
const encoder = new TextEncoder();
const decoder = new TextDecoder();

interface Round {
  readonly cpuMicrosPerVm: number;
  readonly updates: number;
  readonly claims: number;
}

async function round(): Promise<Round> {
  const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('spread', {}));
  // Inventory's hosts; the engine follows them through the bucket's updates.
  const truth = new Map<string, HostSnapshot>();
  for (let i = 0; i < HOSTS; i++) {
    const h = hostSnapshot({ hostId: `sim-${String(i + 1).padStart(4, '0')}`, cpus: HOST_CPUS, memoryBytes: HOST_CPUS * GiB }, 1);
    truth.set(h.capacity.hostId, h);
    engine.upsert(h);
  }
  const updates: [string, Uint8Array][] = [];
  let inventoryMillis = 0;
  let claims = 0;
  const inventory: InventoryPort = {
    async claim(req: ClaimRequest): Promise<ClaimOutcome> {
      claims++;
      // The request as the gRPC client serializes it: the scheduler's cost.
      inventoryV1.ClaimResourcesRequest.encode(toClaimRequest(req)).finish();
      const t0 = performance.now();
      try {
        const h = truth.get(req.hostId)!;
        if (h.generation !== req.expectedGeneration) return { kind: 'generation-moved', detail: `at ${h.generation}` };
        const next = applyClaim(h, req.claim);
        truth.set(req.hostId, next);
        updates.push([req.hostId, encoder.encode(JSON.stringify(next))]);
        return { kind: 'claimed', generation: next.generation };
      } finally {
        inventoryMillis += performance.now() - t0;
      }
    },
    async reportPlacementFailed() {
      return 'recorded';
    },
  };
  const deps: PlaceVmDeps = {
    engine,
    view: engine,
    source: { get: async (id) => truth.get(id) },
    inventory,
    decisions: new DecisionLog(10_000),
    maxAttempts: 5,
    alternates: 16,
    hostSubsetSize: 16,
    random: Math.random,
    now: () => new Date(),
  };
  const bodies = Array.from({ length: VMS }, (_, i) => {
    const big = i % 4 === 3;
    const spec = vmSpec({ vmId: `vm-${i}`, vcpus: big ? 2 : 1, memoryBytes: (big ? 2 : 1) * GiB });
    const env: EventEnvelope = {
      id: crypto.randomUUID(),
      type: 'VmRequested',
      schemaVersion: 1,
      streamId: `vm-${spec.vmId}`,
      streamPosition: 1,
      globalPosition: String(i + 1),
      occurredAt: new Date().toISOString(),
      data: { vmId: spec.vmId, spec, attempt: 1, excludedHosts: [] },
    };
    return encoder.encode(JSON.stringify(env));
  });

  let applied = 0;
  const cpu = process.cpuUsage();
  for (const body of bodies) {
    const parsed = parseEnvelope(body);
    if (!parsed.ok) throw new Error(parsed.reason);
    const req = parseVmRequested(parsed.envelope);
    if (typeof req === 'string') throw new Error(req);
    const out = await placeVm(deps, req, false);
    if (out.kind !== 'placed') throw new Error(JSON.stringify(out));
    // The bucket's update of the claimed host arrives after inventory's answer.
    for (const [key, value] of updates.splice(0)) {
      applyEntry(engine, { operation: 'PUT', key, value, json: <T>() => JSON.parse(decoder.decode(value)) as T }, logger);
      applied++;
    }
  }
  const u = process.cpuUsage(cpu);
  const micros = u.user + u.system - inventoryMillis * 1000;
  return { cpuMicrosPerVm: Math.round((micros / VMS) * 10) / 10, updates: applied, claims };
}

const rounds: Round[] = [];
// The first round warms the JIT up.
for (let r = 0; r <= ROUNDS; r++) rounds.push(await round());
const measured = rounds.slice(1);
console.log(
  `rounds (µs of CPU per VM): ${measured.map((r) => r.cpuMicrosPerVm).join(', ')}; ${measured[0]!.claims} claims, ${measured[0]!.updates} bucket updates per round`,
);
console.log(JSON.stringify({ hosts: HOSTS, vms: VMS, cpuMicrosPerVm: Math.min(...measured.map((r) => r.cpuMicrosPerVm)) }));
