/**
 * Four scheduler replicas place 2,000 VMs on 50 hosts whose capacity equals the demand, against
 * the real inventory process, Postgres and NATS. Checked from inventory's event log: replaying
 * every host stream, no host is ever over capacity and no VM holds two claims; every VM ends
 * placed (on the host it claimed) or placement-failed with a reason.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import {
  allocatableMemory,
  allocatableVcpus,
  applyClaim,
  releaseClaim,
  usage,
  type Claim,
  type HostCapacity,
  type HostSnapshot,
} from '@berth/fit';
import { callUnary, createClient } from '@berth/grpc-kit';
import {
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  infraAvailable,
  type TestDatabase,
  testSubjectPrefix,
} from '@berth/testing';
import { byStream, readEventLog } from './harness/event-log.ts';
import { repoRoot, startService, stopAll, type ServiceHandle } from './harness/service.ts';
import { mapLimit } from './harness/wait.ts';

const GiB = 1024 ** 3;
// E2E_SCHEDULER_HOSTS scales the run down while developing (VMs scale with it: 40 per host).
const HOSTS = Number(process.env['E2E_SCHEDULER_HOSTS'] ?? 50);
const REPLICAS = 4;
// Per host, 30 VMs of 1 vCPU / 1 GiB and 10 of 2 vCPUs / 2 GiB: 50 vCPUs and 50 GiB, exactly the
// capacity of a host; at 50 hosts that is 2,000 VMs.
const VMS = Array.from({ length: HOSTS * 40 }, (_, i) => (i % 4 !== 3 ? { vcpus: 1, gib: 1 } : { vcpus: 2, gib: 2 }));
const HOST_VCPUS = 50;

function shuffled<T>(items: readonly T[], seed: number): T[] {
  const out = [...items];
  let s = seed;
  for (let i = out.length - 1; i > 0; i--) {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const j = s % (i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

const inventoryReady = existsSync(join(repoRoot, 'services', 'inventory', 'src', 'main.ts'));

describe.skipIf(!inventoryReady || !(await infraAvailable('postgres', 'nats')))('scheduler replicas against the real inventory', () => {
  let db: TestDatabase;
  const prefix = testSubjectPrefix('e2e_sched');
  let inventory: ServiceHandle;
  let schedulers: ServiceHandle[] = [];
  let client: InstanceType<typeof inventoryV1.InventoryServiceClient>;

  beforeAll(async () => {
    db = await createTestDatabase('e2e_sched');
    inventory = await startService('inventory', { DATABASE_URL: db.url, NATS_PREFIX: prefix });
    schedulers = await Promise.all(
      Array.from({ length: REPLICAS }, (_, i) =>
        startService(
          'scheduler',
          { NATS_PREFIX: prefix, INVENTORY_ADDR: inventory.address, LOG_LEVEL: 'debug' },
          { label: `scheduler-${i + 1}` },
        ),
      ),
    );
    client = createClient(inventoryV1.InventoryServiceClient, inventory.address, { deadlineMillis: 30_000 });
  });

  afterAll(async () => {
    client?.close();
    await stopAll();
    await deletePrefixedStreams(prefix);
    await db?.drop();
  });

  // Long on purpose: 2,000 placements through five real processes on a shared 2-core machine.
  it('never over-commits a host and ends every VM placed or failed with a reason', { timeout: 600_000 }, async () => {
    const hostIds = Array.from({ length: HOSTS }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
    await mapLimit(hostIds, 8, (hostId) =>
      callUnary(client, 'registerHost', {
        meta: { commandId: `register-${hostId}` },
        hostId,
        spec: modelV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'Cascadelake-Server',
          topology: { sockets: 1, coresPerSocket: HOST_VCPUS, threadsPerCore: 1 },
          cpus: HOST_VCPUS,
          memoryBytes: HOST_VCPUS * GiB,
        }),
        state: modelV1.HostState.HOST_STATE_ENABLED,
      }),
    );

    const started = Date.now();
    const requests = shuffled(
      VMS.map((vm, i) => ({ ...vm, vmId: `vm-${String(i).padStart(4, '0')}` })),
      42,
    );
    await mapLimit(requests, 8, (r) =>
      callUnary(client, 'composeVm', {
        meta: { commandId: `compose-${r.vmId}` },
        vmId: r.vmId,
        spec: modelV1.VmSpec.fromPartial({ name: r.vmId, vcpus: r.vcpus, memoryBytes: r.gib * GiB }),
      }),
    );

    const composeSeconds = (Date.now() - started) / 1000;
    const decided = new Set([inventoryV1.VmStatus.VM_STATUS_PLACED, inventoryV1.VmStatus.VM_STATUS_PLACEMENT_FAILED]);
    const vms = await eventually(
      async () => {
        const list = (await callUnary(client, 'listVms', { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_UNSPECIFIED })).vms;
        return list.length === VMS.length && list.every((v) => decided.has(v.status)) ? list : undefined;
      },
      'every VM placed or placement-failed',
      540_000,
      1000,
    );
    const seconds = (Date.now() - started) / 1000;

    // ---- from the log ----
    const streams = byStream(await readEventLog(db.url));
    const claimedBy = new Map<string, string>();
    let hostsChecked = 0;
    for (const [streamId, events] of streams) {
      if (!streamId.startsWith('host-')) continue;
      hostsChecked++;
      let snapshot: HostSnapshot | undefined;
      for (const e of events) {
        if (e.type === 'HostRegistered' || e.type === 'HostUpdated') {
          const capacity = e.data['capacity'] as HostCapacity;
          snapshot = { capacity, generation: e.streamPosition, claims: snapshot?.claims ?? [] };
        } else if (e.type === 'ResourcesClaimed') {
          const claim = e.data['claim'] as Claim;
          expect(claimedBy.has(claim.vmId), `${claim.vmId} claimed twice`).toBe(false);
          claimedBy.set(claim.vmId, claim.hostId);
          snapshot = applyClaim(snapshot!, claim);
        } else if (e.type === 'ClaimReleased') {
          snapshot = releaseClaim(snapshot!, e.data['vmId'] as string);
        }
        if (snapshot === undefined) continue;
        const u = usage(snapshot);
        const cap = snapshot.capacity;
        expect(u.vcpus, `${streamId}@${e.streamPosition} vCPUs`).toBeLessThanOrEqual(allocatableVcpus(cap.cpus, cap.cpuOvercommit));
        expect(u.memoryBytes, `${streamId}@${e.streamPosition} memory`).toBeLessThanOrEqual(
          allocatableMemory(cap.memoryBytes, cap.memoryOvercommit),
        );
      }
    }
    expect(hostsChecked).toBe(HOSTS);

    let placed = 0;
    let failed = 0;
    for (const r of requests) {
      const events = streams.get(`vm-${r.vmId}`) ?? [];
      const last = events.filter((e) => e.type === 'VmPlaced' || e.type === 'VmPlacementFailed').at(-1);
      expect(last, `${r.vmId} has a placement outcome`).toBeDefined();
      if (last!.type === 'VmPlaced') {
        placed++;
        expect(claimedBy.get(r.vmId), `${r.vmId} placed where it holds its claim`).toBe(last!.data['hostId']);
      } else {
        failed++;
        const reason = last!.data['reason'];
        expect(typeof reason === 'string' && reason.length > 0, `${r.vmId} has a failure reason`).toBe(true);
      }
    }
    expect(placed + failed).toBe(VMS.length);
    expect(vms.filter((v) => v.status === inventoryV1.VmStatus.VM_STATUS_PLACED)).toHaveLength(placed);
    // Every replica took a share of the work (one shared durable consumer).
    const perReplica = schedulers.map(
      (s) => s.jsonLogs().filter((l) => l['msg'] === 'vm placed' || l['msg'] === 'vm placement failed').length,
    );
    expect(perReplica.every((n) => n > 0)).toBe(true);
    // A replica that says it placed a VM names the host the VM holds its claim on (replicas that took the
    // same delivery claim under one command id: the one whose host lost hears "not pending", not "placed").
    const placedLines = schedulers.flatMap((s) => s.jsonLogs().filter((x) => x['msg'] === 'vm placed'));
    expect(placedLines.length).toBeGreaterThanOrEqual(placed);
    for (const l of placedLines)
      expect(l['hostId'], `${String(l['vmId'])} placed where it holds its claim`).toBe(claimedBy.get(String(l['vmId'])));
    const contended = schedulers.reduce(
      (n, s) => n + s.jsonLogs().filter((l) => l['msg'] === 'vm placement contended, redelivering').length,
      0,
    );
    const retried = schedulers.reduce(
      (n, s) => n + s.jsonLogs().filter((l) => typeof l['attempts'] === 'number' && l['attempts'] > 1).length,
      0,
    );
    console.log(
      JSON.stringify({
        vms: VMS.length,
        hosts: HOSTS,
        replicas: REPLICAS,
        placed,
        failed,
        composeSeconds,
        seconds,
        placementsPerSecond: Math.round(VMS.length / seconds),
        perReplica,
        retried,
        contended,
      }),
    );
  });
});
