/**
 * Claim throughput of inventory's claim path, called at the application layer (ClaimCommands.claim /
 * releaseClaim against real Postgres; no gRPC): 4 concurrent claimers over 1,000 hosts, each cycle
 * one ClaimResources (host + VM stream in one commit, fit re-checked at the expected generation)
 * plus one ReleaseClaim. Afterwards every host stream is replayed and audited for double booking.
 * Last line: {"claimsPerSecond", "conflicts", "doubleBookings", "p99ClaimMillis", ...}.
 */
import { ConcurrencyError } from '@berth/errors';
import { createKysely, migrateEventStore, PostgresEventStore } from '@berth/event-store';
import { inventoryEvents, eventCatalog, storedEventEvolution } from '@berth/contracts';
import type { Claim } from '@berth/fit';
import { createTestDatabase } from '@berth/testing';
import { auditHostStream } from '../src/application/audit.ts';
import { HostCommands } from '../src/application/hosts.ts';
import { VmCommands } from '../src/application/vms.ts';
import { ClaimCommands } from '../src/application/claims.ts';
import { inventoryBatcher } from '../src/application/streams.ts';
import { GiB, vmSpecInput } from '../src/testing/host-specs.ts';

const HOSTS = 1000;
const CLAIMERS = 4;
const VMS_PER_CLAIMER = Number(process.env['BENCH_VMS_PER_CLAIMER'] ?? 2500);
// Phases stop early at these budgets so the whole run stays under a minute on a busy machine.
const COMPOSE_BUDGET_MILLIS = 12_000;
const CLAIM_BUDGET_MILLIS = 15_000;

async function inParallel<T>(items: readonly T[], width: number, fn: (t: T) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

const percentile = (sorted: number[], p: number): number => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;

async function main(): Promise<void> {
  const tdb = await createTestDatabase('inventory_bench');
  const db = createKysely(tdb.url, { max: CLAIMERS + 4 });
  try {
    await migrateEventStore(db);
    const store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, inventoryEvents.INVENTORY_SERVICE) });
    // One inventory: the claimers' commands share its batcher (group commit over cached host state).
    const batcher = inventoryBatcher(store);
    const hosts = new HostCommands(batcher);
    const vms = new VmCommands(batcher, async () => new Set());
    const claimCommands = new ClaimCommands(batcher);
    const hostIds = Array.from({ length: HOSTS }, (_, i) => `bench-${i}`);
    const t0 = performance.now();
    await inParallel(hostIds, 8, (hostId) =>
      hosts.register({
        hostId,
        spec: {
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'sim',
          cpus: 16,
          memoryBytes: 64 * GiB,
          cpuOvercommit: 1,
          numaNodes: [],
          sriovNics: [],
          pciDevices: [],
          storagePools: [],
          networks: [],
          resourcePool: 'default',
          tags: [],
        },
      }),
    );
    // VmRequested VMs to claim for (a VM is claimed once); composed per claimer, within the budget.
    const queues: string[][] = Array.from({ length: CLAIMERS }, () => []);
    const composeUntil = performance.now() + COMPOSE_BUDGET_MILLIS;
    const vmIds = Array.from({ length: CLAIMERS * VMS_PER_CLAIMER }, (_, i) => `bench-vm-${i}`);
    await inParallel(vmIds, 8, async (vmId) => {
      if (performance.now() > composeUntil) return;
      await vms.compose({
        vmId,
        spec: vmSpecInput({ name: vmId, vcpus: 4, memoryBytes: 16 * GiB }),
      });
      queues[Number(vmId.slice('bench-vm-'.length)) % CLAIMERS]!.push(vmId);
    });
    console.log(`setup: ${HOSTS} hosts, ${queues.flat().length} VMs in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

    // Each claimer's view of host generations, as a scheduler's snapshot view would be: stale on conflict.
    const generation = new Map(hostIds.map((h) => [h, 1]));
    const latencies: number[] = [];
    let conflicts = 0;
    let claims = 0;
    let seed = 42;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const start = performance.now();
    await Promise.all(
      Array.from({ length: CLAIMERS }, async (_, c) => {
        for (const vmId of queues[c]!) {
          if (performance.now() - start > CLAIM_BUDGET_MILLIS) break;
          for (;;) {
            const hostId = hostIds[Math.floor(random() * HOSTS)]!;
            const claim: Claim = {
              vmId,
              hostId,
              vcpus: 4,
              memoryBytes: 16 * GiB,
              pinnedCpus: [],
              numaCells: [],
              hugepages: [],
              devices: [],
              vfs: [],
              volumes: [],
              affinityGroups: [],
            };
            const t = performance.now();
            try {
              await claimCommands.claim({
                vmId,
                hostId,
                expectedGeneration: generation.get(hostId)!,
                claim,
                explanation: { bench: true },
                alternates: [],
              });
              latencies.push(performance.now() - t);
              claims++;
              generation.set(hostId, await claimCommands.releaseClaim({ vmId, hostId, reason: 'bench' }));
              break;
            } catch (e) {
              if (!(e instanceof ConcurrencyError)) throw e;
              conflicts++;
              generation.set(hostId, (await hosts.get(hostId)).generation);
            }
          }
        }
      }),
    );
    const seconds = (performance.now() - start) / 1000;

    let doubleBookings = 0;
    await inParallel(hostIds, 8, async (hostId) => {
      const { events } = await store.readStream(inventoryEvents.hostStreamId(hostId));
      doubleBookings += auditHostStream(events).length;
    });
    latencies.sort((a, b) => a - b);
    const result = {
      claimsPerSecond: Math.round(claims / seconds),
      conflicts,
      doubleBookings,
      p99ClaimMillis: Number(percentile(latencies, 99).toFixed(2)),
      p50ClaimMillis: Number(percentile(latencies, 50).toFixed(2)),
      claims,
      seconds: Number(seconds.toFixed(2)),
      claimers: CLAIMERS,
      hosts: HOSTS,
      path: 'application (ClaimCommands.claim + releaseClaim, real Postgres, no gRPC)',
    };
    console.log(JSON.stringify(result));
  } finally {
    await db.destroy();
    await tdb.drop();
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
