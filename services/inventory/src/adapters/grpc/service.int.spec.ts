import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { FIELD_VIOLATIONS_KEY, GrpcStatus, isServiceError } from '@berth/grpc-kit';
import { createEventPublisher, openKv } from '@berth/messaging';
import { createLogger } from '@berth/observability';
import { loadHardwareConfigFile } from '@berth/hardware-config';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  infraAvailable,
  natsUrl,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import { type EventEnvelope, inventoryV1 as pb, modelV1 } from '@berth/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import type { HostSnapshot } from '@berth/fit';
import { startInventory, type RunningInventory } from '../../service.ts';
import { encodeHardwareConfig } from '@berth/model-codec';
import { claimMsg, hostSpecMsg, testClient, vmSpecMsg } from '../../testing/grpc-client.ts';

const GiB = 1024 ** 3;
const fixture = new URL('../../../../../libs/hardware-config/fixtures/ticrypt-vm.conf', import.meta.url).pathname;

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('InventoryService over gRPC', () => {
  let tdb: TestDatabase;
  let inv: RunningInventory;
  let nc: NatsConnection;
  let t: ReturnType<typeof testClient>;
  const prefix = testSubjectPrefix('inv');

  beforeAll(async () => {
    tdb = await createTestDatabase('inventory_grpc');
    inv = await startInventory(
      {
        DATABASE_URL: tdb.url,
        NATS_URL: natsUrl(),
        NATS_PREFIX: prefix,
        INVENTORY_GRPC_PORT: 0,
        INVENTORY_MAX_PROVISION_ATTEMPTS: 2,
        INVENTORY_CAPACITY_SWEEP: 200,
        INVENTORY_SNAPSHOT_CLAIM_LINGER: 1000,
      },
      createLogger('inventory-test'),
    );
    nc = await connectTestNats();
    t = testClient(inv.port);
  });

  afterAll(async () => {
    t?.client.close();
    await inv?.stop();
    if (nc) {
      await deletePrefixedStreams(prefix, nc); // the streams and buckets this file created under its prefix
      await nc.close();
    }
    await tdb?.drop();
  });

  const eventCount = async (): Promise<number> =>
    Number((await sql<{ n: string }>`SELECT count(*) AS n FROM events`.execute(inv.db)).rows[0]!.n);

  /** INVALID_ARGUMENT naming `field`, and not one event appended. */
  async function expectInvalid(run: () => Promise<unknown>, field: string): Promise<void> {
    const before = await eventCount();
    const f = await t.failure(run());
    expect(f.code, f.details).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(f.fields).toContain(field);
    expect(await eventCount()).toBe(before);
  }

  const register = (hostId: string, over: Partial<modelV1.HostSpec> = {}) =>
    t.call('registerHost', { meta: t.meta(), hostId, spec: hostSpecMsg({ name: hostId, ...over }), state: 0 });
  const compose = (vmId: string, over: Partial<modelV1.VmSpec> = {}) =>
    t.call('composeVm', { meta: t.meta(), vmId, spec: vmSpecMsg({ name: vmId, ...over }) });
  const claim = async (vmId: string, hostId: string, over: Partial<modelV1.Claim> = {}) => {
    const { host } = await t.call('getHost', { hostId });
    return t.call('claimResources', {
      meta: t.meta(),
      vmId,
      hostId,
      expectedGeneration: host!.generation,
      claim: claimMsg(vmId, hostId, over),
      explanationJson: '{"score":1}',
      alternates: [],
    });
  };
  const executorEvent = async (type: string, data: Record<string, unknown>) => {
    const publish = createEventPublisher(nc, { service: 'executor', prefix });
    const env: EventEnvelope = {
      id: randomUUID(),
      type,
      schemaVersion: 1,
      streamId: `vm-${String(data['vmId'])}`,
      streamPosition: 1,
      globalPosition: '1',
      occurredAt: new Date().toISOString(),
      data,
    };
    await publish(env);
  };
  const statusOf = async (vmId: string) => (await t.call('getVm', { vmId })).vm!.status;
  const waitStatus = (vmId: string, status: pb.VmStatus) =>
    eventually(async () => ((await statusOf(vmId)) === status ? true : undefined), `${vmId} ${pb.VmStatus[status]}`);

  it('applies the seed hardware config and reads it back', async () => {
    const config = encodeHardwareConfig(await loadHardwareConfigFile(fixture));
    const { version } = await t.call('applyHardwareConfig', { meta: t.meta(), config, source: 'ticrypt-vm.conf' });
    expect(version).toBe(1);
    const back = await t.call('getHardwareConfig', {});
    expect(back.config!.hardwareProfiles.map((p) => p.id).sort()).toEqual(['nvidia-gpu-node', 'pool1', 'pool2']);
    expect(back.config!.hardwareProfiles.find((p) => p.id === 'nvidia-gpu-node')!.devices.map((d) => d.address)).toEqual([
      '0000:01:02.0',
      '0000:02:03.0',
    ]);
  });

  it('registers a host from a profile; get, list, snapshot (gRPC and KV) agree', async () => {
    const { host } = await register('gpu-1', { profileId: 'nvidia-gpu-node', cpus: undefined, memoryBytes: undefined, cpuOvercommit: 2 });
    expect(host!.spec!.cpus).toBe(8);
    expect(host!.usage!.vcpusAllocatable).toBe(16);
    expect(host!.usage!.devices.map((d) => d.address)).toEqual(['0000:01:02.0', '0000:02:03.0']);
    expect((await t.call('getHost', { hostId: 'gpu-1' })).host!.generation).toBe(1);
    await eventually(
      async () =>
        (await t.call('listHosts', { state: 0, resourcePool: '', tag: '' })).hosts.some((h) => h.hostId === 'gpu-1') ? true : undefined,
      'host listed',
    );
    const snaps = await t.call('listHostSnapshots', {});
    expect(snaps.snapshots.find((s) => s.hostId === 'gpu-1')?.generation).toBe(1);
    const kv = await openKv(nc, 'berth-host-snapshots', { prefix });
    const entry = await eventually(async () => (await kv.getJson<HostSnapshot>('gpu-1'))?.value, 'KV snapshot');
    expect(entry.generation).toBe(1);
    expect(entry.capacity.cpuOvercommit).toBe(2);
  });

  it('refuses invalid input with INVALID_ARGUMENT naming the field, and changes nothing', async () => {
    await expectInvalid(() => register('bad-1', { hypervisorUri: 'qemu://nowhere' }), 'spec.hypervisorUri');
    await expectInvalid(() => register('bad-2', { profileId: 'no-such-profile' }), 'spec.profileId');
    await expectInvalid(() => register('bad-3', { pciDevices: [{ type: 'gpu', address: '2:3:4' }] }), 'spec.pciDevices[0].address');
    await expectInvalid(() => register('bad-4', { cpuOvercommit: 10.5 }), 'spec.cpuOvercommit');
    await expectInvalid(() => register('bad-5', { memoryOvercommit: -0.5 }), 'spec.memoryOvercommit');
    await expectInvalid(
      () =>
        register('bad-6', {
          storagePools: [{ name: 'p', type: 'dir', path: '/p', totalBytes: -1, externalUsedBytes: 0, isDefault: true }],
        }),
      'spec.storagePools[0].totalBytes',
    );
    await expectInvalid(() => register('Bad Id'), 'hostId');
    await expectInvalid(() => compose('bad-vm-1', { memoryBytes: -4 * GiB }), 'spec.memoryBytes');
    await expectInvalid(() => compose('bad-vm-2', { disks: [{ sizeBytes: -1, pool: '' }] }), 'spec.disks[0].sizeBytes');
    await expectInvalid(() => compose('bad-vm-3', { disks: [{ sizeBytes: GiB, pool: 'no-such-pool' }] }), 'spec.disks[0].pool');
    await expectInvalid(() => t.call('composeVm', { meta: undefined, vmId: 'bad-vm-4', spec: vmSpecMsg() }), 'meta.commandId');
    await expectInvalid(
      () =>
        t.call('claimResources', {
          meta: t.meta(),
          vmId: 'x',
          hostId: 'gpu-1',
          expectedGeneration: 1,
          claim: claimMsg('y', 'gpu-1'),
          explanationJson: '',
          alternates: [],
        }),
      'claim.vmId',
    );
  });

  it('the docs name the metadata key the server really sends field violations under', async () => {
    const err = await compose('bad-vm-doc', { vcpus: 0 }).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (!isServiceError(err)) throw new Error('expected a gRPC error');
    const keys = Object.keys(err.metadata.getMap()).filter((k) => k.includes('field-violations'));
    expect(keys).toEqual([FIELD_VIOLATIONS_KEY]);
    const root = new URL('../../../../../', import.meta.url).pathname;
    for (const doc of ['proto/berth/inventory/v1/inventory_service.proto', 'services/inventory/README.md']) {
      const named = [...readFileSync(`${root}${doc}`, 'utf8').matchAll(/berth-field-violations[\w-]*/g)].map((m) => m[0]);
      expect(named.length, doc).toBeGreaterThan(0);
      expect(new Set(named), doc).toEqual(new Set(keys));
    }
  });

  it('composes VMs idempotently, with the migration-mode defaults, and relays VmRequested to NATS', async () => {
    const sub = nc.subscribe(`${prefix}.berth.inventory.vm.default.VmRequested`, { max: 1 });
    const meta = t.meta();
    const first = await t.call('composeVm', {
      meta,
      vmId: 'vm-a',
      spec: vmSpecMsg({ name: 'a', highPerformance: true, disks: [{ sizeBytes: GiB, pool: 'default' }] }),
    });
    const before = await eventCount();
    const again = await t.call('composeVm', { meta, vmId: 'vm-a', spec: vmSpecMsg({ name: 'a', highPerformance: true }) });
    expect(await eventCount()).toBe(before);
    expect(again.vm!.version).toBe(first.vm!.version);
    expect(first.vm!.status).toBe(pb.VmStatus.VM_STATUS_REQUESTED);
    expect(first.vm!.spec!.migrationMode).toBe(modelV1.MigrationMode.MIGRATION_MODE_MANUAL);
    for await (const m of sub) expect(m.json<EventEnvelope>().streamId).toBe('vm-vm-a');
    await eventually(
      async () => ((await t.call('listVms', { hostId: '', status: 0 })).vms.some((v) => v.vmId === 'vm-a') ? true : undefined),
      'vm listed',
    );
    // Without a client-chosen id, a retry still answers with the VM (and host) the first attempt created.
    const anon = t.meta();
    const one = await t.call('composeVm', { meta: anon, vmId: '', spec: vmSpecMsg() });
    const two = await t.call('composeVm', { meta: anon, vmId: '', spec: vmSpecMsg() });
    expect(two.vm!.vmId).toBe(one.vm!.vmId);
    const hostMeta = t.meta();
    const h1 = await t.call('registerHost', { meta: hostMeta, hostId: '', spec: hostSpecMsg(), state: 0 });
    const h2 = await t.call('registerHost', { meta: hostMeta, hostId: '', spec: hostSpecMsg(), state: 0 });
    expect(h2.host!.hostId).toBe(h1.host!.hostId);
  });

  it('MAAS: four 2-core 4 GB VMs on a 4-core 12 GB host through ClaimResources, overcommitted; a fifth is refused', async () => {
    await register('maas-1', { cpus: 4, memoryBytes: 12 * GiB, cpuOvercommit: 2, memoryOvercommit: 1.5 });
    for (const i of [1, 2, 3, 4]) {
      await compose(`maas-vm-${i}`);
      const r = await claim(`maas-vm-${i}`, 'maas-1');
      expect(r.vm!.status).toBe(pb.VmStatus.VM_STATUS_PLACED);
    }
    await compose('maas-vm-5');
    const f = await t.failure(claim('maas-vm-5', 'maas-1'));
    expect(f.code).toBe(GrpcStatus.FAILED_PRECONDITION);
    const { host } = await t.call('getHost', { hostId: 'maas-1' });
    expect(host!.usage!.vcpusUsed).toBe(8);
    expect(host!.usage!.memoryUsedBytes).toBe(16 * GiB);
  });

  it('a claim at a stale generation is ABORTED unless it still fits; release returns the resources; placement failure is recorded', async () => {
    // 2 vCPUs: after gen-vm-1's 2, a claim computed at generation 1 no longer fits.
    await register('gen-1', { cpus: 2 });
    await compose('gen-vm-1');
    await compose('gen-vm-2');
    await claim('gen-vm-1', 'gen-1');
    const stale = await t.failure(
      t.call('claimResources', {
        meta: t.meta(),
        vmId: 'gen-vm-2',
        hostId: 'gen-1',
        expectedGeneration: 1,
        claim: claimMsg('gen-vm-2', 'gen-1'),
        explanationJson: '',
        alternates: [],
      }),
    );
    expect(stale.code).toBe(GrpcStatus.ABORTED);
    // 4 vCPUs: the same stale claim is re-checked against the host as it is and taken.
    await register('gen-2', { cpus: 4 });
    await compose('gen-vm-3');
    await compose('gen-vm-4');
    await claim('gen-vm-3', 'gen-2');
    const taken = await t.call('claimResources', {
      meta: t.meta(),
      vmId: 'gen-vm-4',
      hostId: 'gen-2',
      expectedGeneration: 1,
      claim: claimMsg('gen-vm-4', 'gen-2'),
      explanationJson: '',
      alternates: [],
    });
    expect(taken.generation).toBe(3);
    expect(taken.vm!.status).toBe(pb.VmStatus.VM_STATUS_PLACED);
    const { generation } = await t.call('releaseClaim', { meta: t.meta(), vmId: 'gen-vm-1', hostId: 'gen-1', reason: 'test' });
    expect(generation).toBe(3);
    expect((await t.call('getHost', { hostId: 'gen-1' })).host!.usage!.vcpusUsed).toBe(0);
    const failed = await t.call('reportPlacementFailed', {
      meta: t.meta(),
      vmId: 'gen-vm-2',
      reason: 'no host has 64 vCPUs',
      explanationJson: '{"vcpus":12}',
    });
    expect(failed.vm!.status).toBe(pb.VmStatus.VM_STATUS_PLACEMENT_FAILED);
    expect(failed.vm!.failureReason).toBe('no host has 64 vCPUs');
  });

  it('ClaimResourcesBatch answers each claim as ClaimResources would, in order, committing only the ones that hold', async () => {
    await register('batch-1', { cpus: 2 });
    for (const vmId of ['batch-a', 'batch-b']) await compose(vmId);
    const req = (vmId: string, over: Partial<pb.ClaimResourcesRequest> = {}): pb.ClaimResourcesRequest =>
      pb.ClaimResourcesRequest.fromPartial({
        meta: t.meta(),
        vmId,
        hostId: 'batch-1',
        expectedGeneration: 1,
        claim: claimMsg(vmId, 'batch-1'),
        explanationJson: '{}',
        ...over,
      });
    const { results } = await t.call('claimResourcesBatch', {
      claims: [
        req('batch-a'), // takes both vCPUs
        req('batch-b'), // computed at generation 1, no longer fits: ABORTED
        req('batch-ghost'), // no such VM
        req('batch-b', { meta: { commandId: '' } }), // bad input, named
      ],
    });
    expect(results.map((r) => [r.code, r.generation])).toEqual([
      [GrpcStatus.OK, 2],
      [GrpcStatus.ABORTED, 0],
      [GrpcStatus.NOT_FOUND, 0],
      [GrpcStatus.INVALID_ARGUMENT, 0],
    ]);
    expect(results[3]!.fieldViolations).toEqual([{ field: 'meta.commandId', reason: expect.stringContaining('required') }]);
    const { host } = await t.call('getHost', { hostId: 'batch-1' });
    expect([host!.generation, host!.usage!.vcpusUsed]).toEqual([2, 2]);
    expect((await t.call('getVm', { vmId: 'batch-b' })).vm!.status).toBe(pb.VmStatus.VM_STATUS_REQUESTED);
    const tooMany = await t.failure(t.call('claimResourcesBatch', { claims: Array.from({ length: 1001 }, () => req('batch-b')) }));
    expect(tooMany.code).toBe(GrpcStatus.INVALID_ARGUMENT);
  });

  it('host state: maintenance waits for claims; remove refuses a host with claims; update and remove', async () => {
    await register('m-1', { cpus: 4 });
    await compose('m-vm');
    await claim('m-vm', 'm-1');
    const prep = await t.call('setHostState', {
      meta: t.meta(),
      hostId: 'm-1',
      state: modelV1.HostState.HOST_STATE_MAINTENANCE,
      reason: 'kernel',
    });
    expect(prep.host!.state).toBe(modelV1.HostState.HOST_STATE_MAINTENANCE_PREPARING);
    expect((await t.failure(t.call('removeHost', { meta: t.meta(), hostId: 'm-1' }))).code).toBe(GrpcStatus.FAILED_PRECONDITION);
    await t.call('releaseClaim', { meta: t.meta(), vmId: 'm-vm', hostId: 'm-1', reason: 'evacuated' });
    expect((await t.call('getHost', { hostId: 'm-1' })).host!.state).toBe(modelV1.HostState.HOST_STATE_MAINTENANCE);
    const updated = await t.call('updateHost', {
      meta: t.meta(),
      hostId: 'm-1',
      spec: hostSpecMsg({ name: 'm-1', cpus: 16, tags: ['big'] }),
    });
    expect(updated.host!.spec!.cpus).toBe(16);
    const kv = await openKv(nc, 'berth-host-snapshots', { prefix });
    await eventually(
      async () => ((await kv.getJson<HostSnapshot>('m-1'))?.value?.capacity.cpus === 16 ? true : undefined),
      'updated snapshot',
    );
    await t.call('removeHost', { meta: t.meta(), hostId: 'm-1' });
    expect((await t.failure(t.call('getHost', { hostId: 'm-1' }))).code).toBe(GrpcStatus.NOT_FOUND);
    await eventually(async () => ((await kv.getJson<HostSnapshot>('m-1'))?.value === undefined ? true : undefined), 'snapshot deleted');
  });

  it('follows the executor: running, stop/start/reboot, provisioning failure re-requests elsewhere, delete releases the claim; WatchVm streams it', async () => {
    await register('x-1', { cpus: 8 });
    await compose('x-vm');
    const watched: string[] = [];
    const stream = t.client.watchVm({ vmId: 'x-vm', fromPosition: 0 });
    const ended = new Promise<void>((resolve, reject) => {
      stream.on('data', (m: pb.WatchVmResponse) => watched.push(m.event!.type));
      stream.on('end', resolve);
      stream.on('error', reject);
    });
    await claim('x-vm', 'x-1');
    await executorEvent('DomainProvisionFailed', {
      vmId: 'x-vm',
      hostId: 'x-1',
      hypervisorUri: 'x',
      attempt: 1,
      reason: 'disk full',
      permanent: false,
    });
    await waitStatus('x-vm', pb.VmStatus.VM_STATUS_REQUESTED);
    const retried = (await t.call('getVm', { vmId: 'x-vm' })).vm!;
    expect(retried.attempt).toBe(2);
    expect(retried.excludedHosts).toEqual(['x-1']);
    expect((await t.call('getHost', { hostId: 'x-1' })).host!.claims).toEqual([]);
    await register('x-2', { cpus: 8 });
    await claim('x-vm', 'x-2');
    await executorEvent('VmStarted', { vmId: 'x-vm', hostId: 'x-2', hypervisorUri: 'x', attempt: 2, cause: 'provisioned' });
    await waitStatus('x-vm', pb.VmStatus.VM_STATUS_RUNNING);
    expect((await t.call('rebootVm', { meta: t.meta(), vmId: 'x-vm' })).vm!.status).toBe(pb.VmStatus.VM_STATUS_RUNNING);
    expect((await t.call('stopVm', { meta: t.meta(), vmId: 'x-vm', force: false })).vm!.status).toBe(pb.VmStatus.VM_STATUS_STOPPING);
    await executorEvent('DomainStopped', { vmId: 'x-vm', hostId: 'x-2', hypervisorUri: 'x', attempt: 2, how: 'graceful' });
    await waitStatus('x-vm', pb.VmStatus.VM_STATUS_STOPPED);
    expect((await t.call('startVm', { meta: t.meta(), vmId: 'x-vm' })).vm!.status).toBe(pb.VmStatus.VM_STATUS_PROVISIONING);
    expect((await t.failure(t.call('rebootVm', { meta: t.meta(), vmId: 'x-vm' }))).code).toBe(GrpcStatus.FAILED_PRECONDITION);
    expect((await t.call('deleteVm', { meta: t.meta(), vmId: 'x-vm' })).vm!.status).toBe(pb.VmStatus.VM_STATUS_DELETING);
    await executorEvent('DomainDeleted', { vmId: 'x-vm', hostId: 'x-2', hypervisorUri: 'x', attempt: 2, reason: 'deleted' });
    await waitStatus('x-vm', pb.VmStatus.VM_STATUS_DELETED);
    expect((await t.call('getHost', { hostId: 'x-2' })).host!.claims).toEqual([]);
    await ended;
    expect(watched).toEqual([
      'VmRequested',
      'VmPlaced',
      'VmProvisionFailed',
      'VmRequested',
      'VmPlaced',
      'VmBecameRunning',
      'VmRebootRequested',
      'VmStopRequested',
      'VmStopped',
      'VmStartRequested',
      'VmDeleteRequested',
      'VmDeleted',
    ]);
  });

  it('answers NOT_FOUND for unknown hosts and VMs', async () => {
    expect((await t.failure(t.call('getVm', { vmId: 'nope' }))).code).toBe(GrpcStatus.NOT_FOUND);
    expect((await t.failure(t.call('getHost', { hostId: 'nope' }))).code).toBe(GrpcStatus.NOT_FOUND);
    expect((await t.failure(t.call('deleteVm', { meta: t.meta(), vmId: 'nope' }))).code).toBe(GrpcStatus.NOT_FOUND);
  });
});
