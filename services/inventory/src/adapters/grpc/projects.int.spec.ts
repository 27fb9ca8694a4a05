import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'kysely';
import { GrpcStatus, isServiceError } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import {
  connectTestNats,
  createTestDatabase,
  deletePrefixedStreams,
  infraAvailable,
  natsUrl,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import { type EventEnvelope, googleRpc, inventoryV1 as pb, modelV1 } from '@berth/contracts';
import type { NatsConnection } from '@nats-io/transport-node';
import { startInventory, type RunningInventory } from '../../service.ts';
import { hostSpecMsg, testClient, vmSpecMsg } from '../../testing/grpc-client.ts';

const GiB = 1024 ** 3;

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('projects and quotas over gRPC', () => {
  let tdb: TestDatabase;
  let inv: RunningInventory;
  let nc: NatsConnection;
  let t: ReturnType<typeof testClient>;
  const prefix = testSubjectPrefix('invproj');

  beforeAll(async () => {
    tdb = await createTestDatabase('inventory_projects');
    inv = await startInventory(
      {
        DATABASE_URL: tdb.url,
        NATS_URL: natsUrl(),
        NATS_PREFIX: prefix,
        INVENTORY_GRPC_PORT: 0,
        INVENTORY_MAX_PROVISION_ATTEMPTS: 2,
        INVENTORY_CAPACITY_SWEEP: 1000,
        INVENTORY_SNAPSHOT_CLAIM_LINGER: 1000,
      },
      createLogger('inventory-projects-test'),
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

  const createProject = (name: string) => t.call('createProject', { meta: t.meta(), name, description: `project ${name}` });
  const setQuota = (name: string, quota: Partial<pb.ProjectQuota>) =>
    t.call('setProjectQuota', { meta: t.meta(), name, quota: pb.ProjectQuota.fromPartial(quota) });
  const compose = (vmId: string, project: string, over: Partial<modelV1.VmSpec> = {}) =>
    t.call('composeVm', { meta: t.meta(), vmId, project, spec: vmSpecMsg({ name: vmId, disks: [], ...over }) });

  /** INVALID_ARGUMENT naming `field`, and not one event appended. */
  async function expectInvalid(run: () => Promise<unknown>, field: string): Promise<void> {
    const before = await eventCount();
    const f = await t.failure(run());
    expect(f.code, f.details).toBe(GrpcStatus.INVALID_ARGUMENT);
    expect(f.fields).toContain(field);
    expect(await eventCount()).toBe(before);
  }

  it('admits exactly up to the quota when 16 composes race for room for 5, and names the quota in the refusals', async () => {
    await createProject('race');
    // Room for 5 two-vCPU VMs: 10 vCPUs (the VM count is not the limit that bites).
    await setQuota('race', { vcpus: 10, vms: 100 });
    const results = await Promise.allSettled(
      Array.from({ length: 16 }, (_, i) => compose(`race-${i}`, 'race', { vcpus: 2, memoryBytes: GiB })),
    );
    const admitted = results.filter((r) => r.status === 'fulfilled');
    const refused = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as unknown] : []));
    expect(admitted).toHaveLength(5);
    expect(refused).toHaveLength(11);
    for (const err of refused) {
      if (!isServiceError(err)) throw err;
      expect(err.code, err.details).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(err.details).toMatch(/project:race quota vcpus exceeded: 10 in use \+ 2 requested > limit 10/);
      // google.rpc.Status with a QuotaFailure, for clients in other languages.
      const [raw] = err.metadata.get('grpc-status-details-bin');
      const status = googleRpc.Status.decode(raw as Buffer);
      expect(status.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
      expect(status.details[0]?.typeUrl).toBe('type.googleapis.com/google.rpc.QuotaFailure');
      const failure = googleRpc.QuotaFailure.decode(status.details[0]!.value);
      expect(failure.violations[0]?.subject).toBe('project:race');
      expect(failure.violations[0]?.description).toMatch(/quota vcpus exceeded/);
    }
    // The log agrees: five VMs requested in the project, five admissions on its stream.
    const { project } = await t.call('getProject', { name: 'race' });
    expect(project?.usage).toMatchObject({ vms: 5, vcpus: 10, memoryBytes: 5 * GiB });
    const requested = await sql<{
      n: string;
    }>`SELECT count(*) AS n FROM events WHERE type = 'VmRequested' AND data->>'project' = 'race'`.execute(inv.db);
    expect(Number(requested.rows[0]!.n)).toBe(5);
  });

  it('frees the quota when a VM is deleted, and refuses each limit by name (VMs, memory, devices by type)', async () => {
    await createProject('small');
    await setQuota('small', { vms: 2, memoryBytes: 8 * GiB, devices: { gpu: 1 } });
    await compose('small-1', 'small', { memoryBytes: 4 * GiB, devices: [{ type: 'gpu', count: 1 }] });
    const gpu = await t.failure(compose('small-x', 'small', { memoryBytes: GiB, devices: [{ type: 'gpu', count: 1 }] }));
    expect(gpu.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(gpu.details).toMatch(/quota devices\.gpu exceeded: 1 in use \+ 1 requested > limit 1/);
    const memory = await t.failure(compose('small-y', 'small', { memoryBytes: 5 * GiB }));
    expect(memory.details).toMatch(/quota memoryBytes exceeded/);
    await compose('small-2', 'small', { memoryBytes: GiB });
    const vms = await t.failure(compose('small-3', 'small', { memoryBytes: GiB }));
    expect(vms.code).toBe(GrpcStatus.RESOURCE_EXHAUSTED);
    expect(vms.details).toMatch(/quota vms exceeded: 2 in use \+ 1 requested > limit 2/);
    // An unplaced VM is deleted at once: its usage is free in the same commit.
    await t.call('deleteVm', { meta: t.meta(), vmId: 'small-1' });
    expect((await t.call('getProject', { name: 'small' })).project?.usage).toMatchObject({ vms: 1, memoryBytes: GiB, devices: {} });
    await compose('small-3', 'small', { memoryBytes: 4 * GiB, devices: [{ type: 'gpu', count: 1 }] });
  });

  it('puts VMs composed without a project in default, and shows the project on the VM and in the list filter', async () => {
    const { vm } = await compose('plain-1', '');
    expect(vm?.project).toBe('default');
    expect((await t.call('getVm', { vmId: 'small-2' })).vm?.project).toBe('small');
    // Deleted VMs stay listed (status DELETED) like every VM; the filter keeps the project's only.
    await expect
      .poll(
        async () => (await t.call('listVms', { hostId: '', status: 0, project: 'small' })).vms.map((v) => `${v.vmId}:${v.project}`).sort(),
        {
          timeout: 10_000,
        },
      )
      .toEqual(['small-1:small', 'small-2:small', 'small-3:small']);
    const listed = await t.call('listProjects', {});
    expect(listed.projects.map((p) => p.name)).toEqual(expect.arrayContaining(['default', 'race', 'small']));
  });

  it('publishes VM and project events with their project (subject token, envelope and Berth-Project header), host events without', async () => {
    await createProject('bus');
    const vmSub = nc.subscribe(`${prefix}.berth.inventory.vm.>`);
    const projectSub = nc.subscribe(`${prefix}.berth.inventory.project.bus.ProjectVmAdmitted`);
    const hostSub = nc.subscribe(`${prefix}.berth.inventory.host.HostRegistered`, { max: 1 });
    await compose('bus-1', 'bus');
    await t.call('deleteVm', { meta: t.meta(), vmId: 'bus-1' });
    await t.call('registerHost', { meta: t.meta(), hostId: 'bus-host', spec: hostSpecMsg({ name: 'bus-host' }), state: 0 });
    const seen: string[] = [];
    for await (const m of vmSub) {
      const env = m.json<EventEnvelope>();
      if (env.streamId !== 'vm-bus-1') continue;
      expect(env.project).toBe('bus');
      expect(m.headers?.get('Berth-Project')).toBe('bus');
      expect(m.subject).toBe(`${prefix}.berth.inventory.vm.bus.${env.type}`);
      seen.push(env.type);
      if (env.type === 'VmDeleted') break;
    }
    expect(seen).toEqual(['VmRequested', 'VmDeleteRequested', 'VmDeleted']);
    for await (const m of projectSub) {
      const env = m.json<EventEnvelope>();
      if ((env.data as { vmId?: string }).vmId !== 'bus-1') continue;
      expect(env.project).toBe('bus');
      break;
    }
    for await (const m of hostSub) {
      expect(m.json<EventEnvelope>().project).toBeUndefined();
      expect(m.headers?.has('Berth-Project') ?? false).toBe(false);
    }
  });

  it('refuses bad input with INVALID_ARGUMENT naming the field, appending nothing', async () => {
    await expectInvalid(() => compose('nowhere-1', 'no-such-project'), 'project');
    await expectInvalid(() => compose('nowhere-2', 'Bad_Name'), 'project');
    await expectInvalid(() => setQuota('no-such-project', { vcpus: 1 }), 'project');
    await expectInvalid(() => setQuota('small', { vcpus: -1 }), 'quota.vcpus');
    await expectInvalid(() => setQuota('small', { devices: { gpu: -2 } }), 'quota.devices[gpu]');
    await expectInvalid(() => createProject('-starts-with-dash'), 'project');
    await expectInvalid(
      () => t.call('bindIdentity', { meta: t.meta(), identity: 'spiffe://berth/client/acme', project: 'nope' }),
      'project',
    );
    await expectInvalid(() => t.call('bindIdentity', { meta: t.meta(), identity: 'not a uri', project: 'small' }), 'identity');
  });
});
