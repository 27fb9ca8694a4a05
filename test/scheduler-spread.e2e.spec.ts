/**
 * Spread holds for placements decided side by side: 32 VMs composed at once onto four empty hosts
 * with SCHEDULER_POLICY=spread, through the real inventory and one scheduler process (which places
 * up to SCHEDULER_PARALLELISM at once). Before the scheduler counted the claims it had on the wire,
 * every placement decided while the first claims travelled saw the same view and chose the same
 * emptiest host, and inventory took them all (a claim at an older generation is re-checked, and they
 * still fitted): the bench's drained hosts held 32 / 32 / 36 / 64 VMs. Checked from inventory's log.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1, schedulerV1 } from '@berth/contracts';
import { callUnary, createClient } from '@berth/grpc-kit';
import {
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  infraAvailable,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import { byStream, readEventLog } from './harness/event-log.ts';
import { startService, stopAll, type ServiceHandle } from './harness/service.ts';
import { mapLimit } from './harness/wait.ts';

const GiB = 1024 ** 3;
const HOSTS = ['s1', 's2', 's3', 's4'];
const VMS = 32;

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('spread with placements in flight together', () => {
  let db: TestDatabase;
  const prefix = testSubjectPrefix('e2e_spread');
  let inventory: ServiceHandle;
  let scheduler: ServiceHandle;
  const clients: { close(): void }[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('e2e_spread');
    inventory = await startService('inventory', { DATABASE_URL: db.url, NATS_PREFIX: prefix });
    scheduler = await startService('scheduler', {
      NATS_PREFIX: prefix,
      INVENTORY_ADDR: inventory.address,
      SCHEDULER_POLICY: 'spread',
      LOG_LEVEL: 'debug',
    });
  });

  afterAll(async () => {
    for (const c of clients) c.close();
    await stopAll();
    await deletePrefixedStreams(prefix);
    await db?.drop();
  });

  it('32 composes at once spread over 4 empty hosts (max - min VMs per host <= 2)', { timeout: 300_000 }, async () => {
    const inv = createClient(inventoryV1.InventoryServiceClient, inventory.address, { deadlineMillis: 60_000 });
    const sched = createClient(schedulerV1.SchedulerServiceClient, scheduler.address, { deadlineMillis: 60_000 });
    clients.push(inv, sched);
    await mapLimit(HOSTS, 4, (hostId) =>
      callUnary(inv, 'registerHost', {
        meta: { commandId: `register-${hostId}` },
        hostId,
        spec: modelV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'Cascadelake-Server',
          topology: { sockets: 1, coresPerSocket: 64, threadsPerCore: 1 },
          cpus: 64,
          memoryBytes: 64 * GiB,
        }),
        state: modelV1.HostState.HOST_STATE_ENABLED,
      }),
    );
    // Every host in the scheduler's view first: a host it has not seen yet cannot be chosen.
    const probe = schedulerV1.ScoreRequest.fromPartial({
      vm: modelV1.VmSpec.fromPartial({ name: 'probe', vcpus: 1, memoryBytes: GiB }),
      limit: 10,
    });
    await eventually(
      async () => ((await callUnary(sched, 'score', probe)).hosts.length === HOSTS.length ? true : undefined),
      'the scheduler to see the four hosts',
      60_000,
    );

    const vmIds = Array.from({ length: VMS }, (_, i) => `sp-${String(i).padStart(2, '0')}`);
    await mapLimit(vmIds, VMS, (vmId) =>
      callUnary(inv, 'composeVm', {
        meta: { commandId: `compose-${vmId}` },
        vmId,
        spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 1, memoryBytes: GiB }),
      }),
    );
    const vms = await eventually(
      async () => {
        const list = (await callUnary(inv, 'listVms', { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_UNSPECIFIED })).vms;
        return list.length === VMS && list.every((v) => v.status === inventoryV1.VmStatus.VM_STATUS_PLACED) ? list : undefined;
      },
      `the ${VMS} VMs placed`,
      240_000,
      500,
    );

    const perHost = HOSTS.map((h) => vms.filter((v) => v.hostId === h).length);
    expect(perHost.reduce((a, b) => a + b, 0)).toBe(VMS);
    expect(Math.max(...perHost) - Math.min(...perHost), `VMs per host ${perHost.join(' / ')}`).toBeLessThanOrEqual(2);
    // The same from inventory's log: where each VM was claimed.
    const streams = byStream(await readEventLog(db.url));
    const claimed = HOSTS.map((h) => (streams.get(`host-${h}`) ?? []).filter((e) => e.type === 'ResourcesClaimed').length);
    expect(claimed).toEqual(perHost);
  });
});
