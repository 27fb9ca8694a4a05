import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createTestDatabase,
  deletePrefixedStreams,
  eventually,
  infraAvailable,
  natsUrl,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import { runCli } from './cli.ts';
import { startServiceProcess, stopServiceProcess, type ServiceProcess } from './testing/service-process.ts';

/**
 * The CLI against the real inventory and scheduler services, each started as its own process (tools
 * never import services), sharing one test database and NATS prefix.
 */
const fixture = (name: string) => fileURLToPath(new URL(`../../../libs/hardware-config/fixtures/${name}`, import.meta.url));

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('berth CLI against inventory and scheduler', () => {
  let db: TestDatabase;
  let inventory: ServiceProcess | undefined;
  let scheduler: ServiceProcess | undefined;
  const prefix = testSubjectPrefix('cli');

  async function berth(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const env = { BERTH_INVENTORY_ADDR: inventory?.address, BERTH_SCHEDULER_ADDR: scheduler?.address };
    const code = await runCli(argv, { env, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const json = async <T>(...argv: string[]): Promise<T> => {
    const r = await berth(...argv, '--json');
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return JSON.parse(r.out) as T;
  };

  type ListedHost = {
    hostId: string;
    spec: { name: string };
    usage: { vcpusAllocatable: number; memoryAllocatableBytes: string | number };
  };
  // Lists come from inventory's read model, which follows the log shortly after each commit.
  const hostListed = (id: string) =>
    eventually(async () => (await json<ListedHost[]>('hosts', 'list')).find((h) => h.hostId === id), `host ${id} listed`);

  beforeAll(async () => {
    db = await createTestDatabase('cli');
    const common = { NATS_URL: natsUrl(), NATS_PREFIX: prefix };
    inventory = await startServiceProcess('inventory', 'INVENTORY_GRPC_PORT', { ...common, DATABASE_URL: db.url });
    scheduler = await startServiceProcess('scheduler', 'SCHEDULER_GRPC_PORT', { ...common, INVENTORY_ADDR: inventory.address });
  });

  afterAll(async () => {
    await stopServiceProcess(scheduler);
    await stopServiceProcess(inventory);
    await deletePrefixedStreams(prefix);
    await db?.drop();
  });

  it('config apply sends the seed 003 profiles and cost functions; config show reads them back', async () => {
    const applied = await berth('config', 'apply', fixture('ticrypt-vm.conf'));
    expect(applied.err).toBe('');
    expect(applied.code).toBe(0);
    expect(applied.out).toMatch(/as hardware config version 1 \(3 cost functions, 3 hardware profiles\)/);
    const shown = await json<{
      version: number;
      config: { hardwareProfiles: { id: string; memoryBytes: number; devices?: { address: string }[] }[] };
    }>('config', 'show');
    expect(shown.version).toBe(1);
    const gpu = shown.config.hardwareProfiles.find((p) => p.id === 'nvidia-gpu-node');
    expect(gpu?.devices?.map((d) => d.address)).toEqual(['0000:01:02.0', '0000:02:03.0']);
    expect(shown.config.hardwareProfiles.map((p) => p.id).sort()).toEqual(['nvidia-gpu-node', 'pool1', 'pool2']);
  });

  it('hosts add/list/show/state/remove round trip, with MAAS overcommit arithmetic', async () => {
    const added = await berth(
      'hosts',
      'add',
      'kvm-1',
      '--id',
      'kvm-1',
      '--uri',
      'qemu+ssh://root@kvm-1:2222/system',
      '--profile',
      'pool1',
      '--cpu-overcommit',
      '0.5',
      '--memory-overcommit',
      '5.5',
      '--memory',
      '128GiB',
      '--storage',
      'name=images,size=500GiB,default',
    );
    expect(added.err).toBe('');
    expect(added.out).toBe('host kvm-1 (kvm-1) registered, enabled');
    const listed = await hostListed('kvm-1');
    expect(listed.usage.vcpusAllocatable).toBe(4); // 8 cores (profile pool1) x 0.5
    expect(Number(listed.usage.memoryAllocatableBytes)).toBe(704 * 1024 ** 3); // 128 GiB x 5.5
    const table = await berth('hosts', 'list');
    expect(table.out.split('\n')[1]).toMatch(/^kvm-1\s+kvm-1\s+enabled\s+pool1\s+0 \/ 4\s+0 B \/ 704 GiB/);
    const state = await berth('hosts', 'state', 'kvm-1', 'no-scheduling', '--reason', 'draining');
    expect(state.out).toBe('host kvm-1 is no-scheduling');
    expect((await berth('hosts', 'show', 'kvm-1')).out).toMatch(/state:\s+no-scheduling \(draining\)/);
    expect((await berth('hosts', 'remove', 'kvm-1')).code).toBe(0);
    const gone = await berth('hosts', 'show', 'kvm-1');
    expect(gone.code).toBe(1);
    expect(gone.err).toMatch(/^berth hosts show: NOT_FOUND: /);
  });

  it('invalid input comes back as INVALID_ARGUMENT naming the field, and changes nothing', async () => {
    const badUri = await berth('hosts', 'add', 'bad', '--uri', 'ftp://nowhere', '--profile', 'pool1');
    expect(badUri.code).toBe(1);
    expect(badUri.err).toMatch(/INVALID_ARGUMENT:\n\s+spec\.hypervisorUri: /);
    const badProfile = await berth('hosts', 'add', 'bad', '--uri', 'qemu:///system', '--profile', 'no-such-profile');
    expect(badProfile.code).toBe(1);
    expect(badProfile.err).toMatch(/INVALID_ARGUMENT:\n\s+spec\.profileId: .*no-such-profile/);
    // The read model applies the log in order: once a later host shows, an accepted bad one would too.
    expect((await berth('hosts', 'add', 'good', '--id', 'good', '--uri', 'qemu:///system', '--profile', 'pool2')).code).toBe(0);
    await hostListed('good');
    expect((await json<ListedHost[]>('hosts', 'list')).map((h) => h.spec.name)).not.toContain('bad');
  });

  it('vms create/list/show/delete: a VM that fits nowhere says why', async () => {
    const created = await json<{ vmId: string; status: string; spec: { memoryBytes: string | number } }>(
      'vms',
      'create',
      'huge',
      '--vcpus',
      '2',
      '--memory',
      '1TiB',
      '--disk',
      '20GiB',
      '--sla',
      'gold',
    );
    expect(created.status).toBe('VM_STATUS_REQUESTED');
    expect(Number(created.spec.memoryBytes)).toBe(1024 ** 4);
    const failed = await eventually(async () => {
      const vm = (await json<{ vmId: string; status: string; failureReason?: string }[]>('vms', 'list')).find(
        (v) => v.vmId === created.vmId,
      );
      return vm?.status === 'VM_STATUS_PLACEMENT_FAILED' ? vm : undefined;
    }, 'the placement to fail');
    expect(failed.failureReason).toMatch(/memory/i);
    const list = await berth('vms', 'list', '--status', 'placement-failed');
    expect(list.out).toMatch(new RegExp(`^${created.vmId}\\s+huge\\s+placement-failed\\s+-\\s+2\\s+1 TiB\\s+gold\\s+\\S`, 'm'));
    expect((await berth('vms', 'show', created.vmId)).out).toMatch(/status:\s+placement-failed\nfailure:\s+\S/);
    const deleted = await berth('vms', 'delete', created.vmId);
    expect(deleted.code).toBe(0);
    expect(deleted.out).toMatch(new RegExp(`^vm ${created.vmId} (deleting|deleted)$`));
  });

  it('vms create --wait-for-capacity: a VM that fits nowhere waits for capacity until its deadline', async () => {
    const created = await json<{ vmId: string; capacityDeadline: string }>(
      'vms',
      'create',
      'patient',
      '--vcpus',
      '2',
      '--memory',
      '1TiB',
      '--wait-for-capacity',
      '10m',
    );
    expect(Date.parse(created.capacityDeadline)).toBeGreaterThan(Date.now() + 9 * 60_000);
    const waiting = await eventually(async () => {
      const vm = (
        await json<{ vmId: string; status: string; failureReason?: string }[]>('vms', 'list', '--status', 'waiting-for-capacity')
      ).find((v) => v.vmId === created.vmId);
      return vm ?? undefined;
    }, 'the VM to wait for capacity');
    expect(waiting.failureReason).toMatch(/memory/i);
    const bad = await berth('vms', 'create', 'x', '--vcpus', '1', '--memory', '1GiB', '--wait-for-capacity', 'soon');
    expect(bad.code).toBe(2);
    expect(bad.err).toMatch(/--wait-for-capacity/);
    expect((await berth('vms', 'delete', created.vmId)).code).toBe(0);
  });

  it('what-if, vms create --wait, explain and score go through the scheduler', async () => {
    expect((await berth('hosts', 'add', 'sched-1', '--id', 'sched-1', '--uri', 'qemu:///system', '--profile', 'pool1')).code).toBe(0);
    const shape = ['--vcpus', '2', '--memory', '4GiB'];
    // The scheduler learns the host from the KV snapshot; 8 cores x overcommit 1 hold four 2-vCPU VMs.
    const whatIf = await eventually(async () => {
      const r = await json<{ total: number | string }>('what-if', ...shape, '--host', 'sched-1');
      return Number(r.total) > 0 ? r : undefined;
    }, 'the scheduler to see sched-1');
    expect(Number(whatIf.total)).toBe(4);
    const text = await berth('what-if', ...shape, '--host', 'sched-1');
    expect(text.out).toMatch(/^4 more fit in total\n\nHOST\s+NAME\s+FITS\nsched-1\s+sched-1\s+4$/);

    const placed = await json<{ vmId: string; status: string; hostId: string }>(
      'vms',
      'create',
      'db-1',
      ...shape,
      '--allowed-host',
      'sched-1',
      '--wait',
      '--until',
      'placed',
      '--wait-timeout',
      '60s',
    );
    expect(placed.status).toBe('VM_STATUS_PLACED');
    expect(placed.hostId).toBe('sched-1');
    const watched = await berth('vms', 'watch', placed.vmId, '--until', 'placed', '--wait-timeout', '10s');
    expect(watched.out).toBe(`vm ${placed.vmId} placed`);
    const explained = await berth('explain', placed.vmId);
    expect(explained.err).toBe('');
    expect(explained.out).toMatch(/outcome:\s+placed/);
    expect(explained.out).toMatch(/host:\s+sched-1/);
    expect(explained.out).toMatch(/^1\s+sched-1\s+[\d.]+\s+[\d.]+\s+pool1$/m);

    const scored = await berth('score', ...shape, '--allowed-host', 'sched-1');
    expect(scored.out).toMatch(/^fits \(\d+ hosts considered\)/);
    expect(scored.out).toMatch(/^1\s+sched-1\s+sched-1\s+[\d.]+\s+\d+$/m);
  });
});
