import { execFileSync } from 'node:child_process';
import { XMLParser } from 'fast-xml-parser';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { executorV1 } from '@berth/contracts';
import { callUnary, createClient, GrpcStatus } from '@berth/grpc-kit';
import { libvirtUsable, startTestLibvirtd, type TestLibvirtd } from '@berth/hypervisor/testing';
import { createLogger } from '@berth/observability';
import { connectTestNats, createTestDatabase, infraAvailable, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { loadExecutorConfig } from './config.ts';
import { startExecutor, type RunningExecutor } from './service.ts';
import { FakeInventory } from './testing/fake-inventory.ts';
import { fits, hostSnapshot, vmSpec, type Claim, type VmSpec } from '@berth/fit';

const virsh = (uri: string, ...args: string[]): string =>
  execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
const domstate = (uri: string, name: string): string => {
  try {
    return virsh(uri, 'domstate', name).trim();
  } catch {
    return 'missing';
  }
};

describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable())(
  'placement-executor against Postgres, NATS and libvirt',
  () => {
    let db: TestDatabase;
    let nc: NatsConnection;
    let lv: TestLibvirtd;
    let ex: RunningExecutor;
    let inv: FakeInventory;
    const prefix = testSubjectPrefix('ex');

    beforeAll(async () => {
      [db, nc, lv] = await Promise.all([createTestDatabase('executor'), connectTestNats(), startTestLibvirtd('executor')]);
      const config = loadExecutorConfig({
        DATABASE_URL: db.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        EXECUTOR_GRPC_PORT: '0',
        EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '1h' }),
        EXECUTOR_STOP_TIMEOUT: '2s',
      });
      ex = await startExecutor(config, createLogger('executor-test'), { sweepMillis: 500 });
      inv = new FakeInventory(nc, prefix);
      inv.listen();
      await inv.emit('host-h1', 'HostRegistered', { hostId: 'h1', hypervisorUri: lv.uri, capacity: {} });
    });
    afterAll(async () => {
      await ex?.stop();
      await nc?.close();
      await lv?.stop();
      await db?.drop();
    });

    it('provisions a placed VM: pinned domain running in libvirt, DomainProvisioningStarted and VmStarted published', async () => {
      await inv.place(
        'p1',
        'h1',
        lv.uri,
        {
          vcpus: 2,
          pinnedCpus: [6, 7],
          numaCells: [{ guestCell: 0, hostNode: 0, cpus: [6, 7], memoryBytes: 128 * 1024 ** 2 }],
        },
        { vcpus: 2, cpuPolicy: 'dedicated' },
      );
      await expect.poll(() => inv.of('p1'), { timeout: 20_000 }).toContain('VmStarted');
      expect(inv.of('p1')).toEqual(['DomainProvisioningStarted', 'VmStarted']);
      expect(domstate(lv.uri, 'berth-p1')).toBe('running');
      const xml = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(virsh(lv.uri, 'dumpxml', 'berth-p1')) as {
        domain: { cputune: { vcpupin: { cpuset: string }[] } };
      };
      expect(xml.domain.cputune.vcpupin.map((p) => p.cpuset)).toEqual(['6', '7']);
    });

    /** The domain as libvirt holds it (virsh dumpxml), parsed. */
    const dumpxml = (name: string) =>
      new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(virsh(lv.uri, 'dumpxml', name)) as {
        domain: {
          cpu?: {
            topology?: { sockets: string; cores: string; threads: string };
            numa?: { cell: { id: string; cpus: string } | { id: string; cpus: string }[] };
          };
          numatune?: { memnode: { cellid: string; nodeset: string } | { cellid: string; nodeset: string }[] };
        };
      };
    const list = <T>(x: T | T[] | undefined): T[] => (x === undefined ? [] : Array.isArray(x) ? x : [x]);
    /** Placed with the claim @berth/fit computes on a two-node host (what the scheduler would send). */
    const placeFitted = async (vmId: string, over: Partial<VmSpec>): Promise<Claim> => {
      const MiB = 1024 ** 2;
      const host = hostSnapshot({
        hostId: 'h1',
        cpus: 8,
        memoryBytes: 4096 * MiB,
        numaNodes: [
          { id: 0, cpus: [0, 1, 2, 3], memoryBytes: 2048 * MiB, hugepages: [] },
          { id: 1, cpus: [4, 5, 6, 7], memoryBytes: 2048 * MiB, hugepages: [] },
        ],
      });
      const spec = vmSpec({ vmId, ...over });
      const r = fits(host, spec);
      if (!r.ok) throw new Error(r.reasons.map((x) => x.detail).join('; '));
      await inv.place(vmId, 'h1', lv.uri, r.claim, spec);
      await expect.poll(() => inv.of(vmId), { timeout: 20_000 }).toContain('VmStarted');
      return r.claim;
    };

    it('builds no simulator unless the config asks for one (EXECUTOR_SIMULATOR is off by default)', () => {
      expect(ex.simulator).toBeUndefined();
      expect(ex.memoryModel).toBeUndefined();
    });

    it('unpinned guest NUMA cells reach libvirt with their own vCPUs, every vCPU in exactly one cell', async () => {
      const MiB = 1024 ** 2;
      await placeFitted('numa3', {
        vcpus: 3,
        memoryBytes: 768 * MiB,
        numaNodes: [
          { vcpus: 1, memoryBytes: 256 * MiB },
          { vcpus: 2, memoryBytes: 512 * MiB },
        ],
      });
      expect(list(dumpxml('berth-numa3').domain.cpu?.numa?.cell).map((c) => [c.id, c.cpus])).toEqual([
        ['0', '0'],
        ['1', '1-2'],
      ]);
      await placeFitted('numa4', {
        vcpus: 4,
        memoryBytes: 384 * MiB,
        numaNodes: [
          { vcpus: 1, memoryBytes: 128 * MiB },
          { vcpus: 1, memoryBytes: 128 * MiB },
          { vcpus: 2, memoryBytes: 128 * MiB },
        ],
      });
      expect(list(dumpxml('berth-numa4').domain.cpu?.numa?.cell).map((c) => c.cpus)).toEqual(['0', '1', '2-3']);
    });

    it('a pinned VM with two guest NUMA nodes gets two distinct host nodes in libvirt', async () => {
      const MiB = 1024 ** 2;
      const claim = await placeFitted('pin2', {
        vcpus: 2,
        cpuPolicy: 'dedicated',
        memoryBytes: 256 * MiB,
        numaNodes: [
          { vcpus: 1, memoryBytes: 128 * MiB },
          { vcpus: 1, memoryBytes: 128 * MiB },
        ],
      });
      expect(claim.numaCells.map((c) => c.hostNode)).toEqual([0, 1]);
      expect(list(dumpxml('berth-pin2').domain.numatune?.memnode).map((m) => [m.cellid, m.nodeset])).toEqual([
        ['0', '0'],
        ['1', '1'],
      ]);
    });

    it('the requested guest CPU topology reaches libvirt as <cpu><topology>', async () => {
      await placeFitted('topo', { vcpus: 4, memoryBytes: 128 * 1024 ** 2, topology: { sockets: 2, coresPerSocket: 1, threadsPerCore: 2 } });
      expect(dumpxml('berth-topo').domain.cpu?.topology).toMatchObject({ sockets: '2', cores: '1', threads: '2' });
    });

    it('a redelivered VmPlaced (same event id) changes nothing', async () => {
      const id = await inv.place('dup', 'h1', lv.uri);
      await expect.poll(() => inv.of('dup'), { timeout: 20_000 }).toContain('VmStarted');
      // Re-published as a new message with the same envelope id, as a crashed relay would.
      await inv.emit(
        'vm-dup',
        'VmPlaced',
        { hostId: 'h1', hypervisorUri: lv.uri, spec: {}, claim: {}, generation: 1, explanation: {}, alternates: [] },
        id,
      );
      await inv.emit('vm-other', 'VmStartRequested', { hostId: 'h1', hypervisorUri: lv.uri });
      await expect.poll(() => inv.of('other'), { timeout: 10_000 }).toContain('DomainOperationFailed');
      expect((await ex.vms.load('dup')).status).toBe('running');
      expect(inv.of('dup').filter((t) => t === 'DomainProvisioningStarted')).toHaveLength(1);
      expect(
        virsh(lv.uri, 'list', '--all', '--name')
          .split('\n')
          .filter((n) => n.trim() === 'berth-dup'),
      ).toHaveLength(1);
    });

    it('a permanent hypervisor failure is reported with permanent=true and leaves nothing behind', async () => {
      await inv.place('bad', 'h1', lv.uri, { volumes: [{ diskIndex: 0, pool: 'no-such-pool', sizeBytes: 1024 ** 3 }] });
      await expect.poll(() => inv.of('bad'), { timeout: 20_000 }).toContain('DomainProvisionFailed');
      const failed = inv.received.find((r) => r.type === 'DomainProvisionFailed' && r.data['vmId'] === 'bad');
      expect(failed?.data).toMatchObject({ hostId: 'h1', permanent: true, attempt: 1 });
      expect(String(failed?.data['reason'])).toMatch(/no-such-pool/);
      expect(domstate(lv.uri, 'berth-bad')).toBe('missing');
    });

    it('stops, starts, reboots and deletes on request', async () => {
      await inv.place('ops', 'h1', lv.uri, { volumes: [{ diskIndex: 0, pool: 'default-pool', sizeBytes: 1024 ** 3 }] });
      await expect.poll(() => inv.of('ops'), { timeout: 20_000 }).toContain('VmStarted');
      expect(virsh(lv.uri, 'vol-list', 'default-pool')).toContain('berth-ops-disk0');
      await inv.emit('vm-ops', 'VmStopRequested', { hostId: 'h1', hypervisorUri: lv.uri, force: false });
      await expect.poll(() => inv.of('ops'), { timeout: 20_000 }).toContain('DomainStopped');
      expect(domstate(lv.uri, 'berth-ops')).toBe('shut off');
      await inv.emit('vm-ops', 'VmStartRequested', { hostId: 'h1', hypervisorUri: lv.uri });
      await expect.poll(() => inv.of('ops').filter((t) => t === 'VmStarted').length, { timeout: 20_000 }).toBe(2);
      expect(domstate(lv.uri, 'berth-ops')).toBe('running');
      await inv.emit('vm-ops', 'VmRebootRequested', { hostId: 'h1', hypervisorUri: lv.uri });
      await expect
        .poll(() => inv.received.filter((r) => r.data['vmId'] === 'ops' && r.data['cause'] === 'rebooted').length, { timeout: 20_000 })
        .toBe(1);
      await inv.emit('vm-ops', 'VmDeleteRequested', { hostId: 'h1', hypervisorUri: lv.uri });
      await expect.poll(() => inv.of('ops'), { timeout: 20_000 }).toContain('DomainDeleted');
      expect(domstate(lv.uri, 'berth-ops')).toBe('missing');
      expect(virsh(lv.uri, 'vol-list', 'default-pool')).not.toContain('berth-ops-disk0');
    });

    it('reconciliation restarts a VM destroyed behind its back and reports, never destroys, a foreign domain', async () => {
      await inv.place('rec', 'h1', lv.uri);
      await expect.poll(() => inv.of('rec'), { timeout: 20_000 }).toContain('VmStarted');
      await expect.poll(async () => (await ex.readModel.vm('rec'))?.status, { timeout: 10_000 }).toBe('running');
      virsh(lv.uri, 'destroy', 'berth-rec');
      // Either the lifecycle event or this pass notices first; the other then finds it running.
      await ex.reconciler.reconcileOnce();
      await expect.poll(() => domstate(lv.uri, 'berth-rec'), { timeout: 10_000 }).toBe('running');
      await expect.poll(() => inv.of('rec'), { timeout: 10_000 }).toContain('DomainDriftDetected');
      expect(inv.of('rec').filter((t) => t === 'DomainDriftDetected')).toHaveLength(1);
      const drift = inv.received.find((r) => r.type === 'DomainDriftDetected' && r.data['vmId'] === 'rec');
      expect(drift?.data).toMatchObject({ expected: 'running', actual: 'shut-off', action: 'restarted' });
      // The test driver's own domain `test` belongs to nobody.
      await expect
        .poll(() => inv.received.filter((r) => r.type === 'UnknownDomainFound').map((r) => r.data['domainName']), { timeout: 10_000 })
        .toContain('test');
      await ex.reconciler.reconcileOnce();
      expect(inv.received.filter((r) => r.type === 'UnknownDomainFound' && r.data['domainName'] === 'test')).toHaveLength(1);
      expect(domstate(lv.uri, 'test')).toBe('running');
    });

    it('restarts a VM whose domain stops behind its back on the lifecycle event, before any poll', async () => {
      await inv.place('evt', 'h1', lv.uri);
      await expect.poll(() => inv.of('evt'), { timeout: 20_000 }).toContain('VmStarted');
      await expect.poll(async () => (await ex.readModel.vm('evt'))?.status, { timeout: 10_000 }).toBe('running');
      await new Promise((r) => setTimeout(r, 1500)); // one sweep: the host's events are followed
      virsh(lv.uri, 'destroy', 'berth-evt');
      // poll-frequency is 1h here: only the event stream can bring it back.
      await expect
        .poll(() => inv.received.filter((r) => r.type === 'DomainDriftDetected' && r.data['vmId'] === 'evt').map((r) => r.data['action']), {
          timeout: 15_000,
        })
        .toEqual(['restarted']);
      expect(domstate(lv.uri, 'berth-evt')).toBe('running');
    });

    it('answers operators over gRPC: ListDomains, GetVmRuntime with live memory, NOT_FOUND and INVALID_ARGUMENT', async () => {
      await inv.place('rt', 'h1', lv.uri);
      await expect.poll(() => inv.of('rt'), { timeout: 20_000 }).toContain('VmStarted');
      await expect.poll(async () => (await ex.readModel.hosts()).has('h1'), { timeout: 10_000 }).toBe(true);
      const client = createClient(executorV1.ExecutorServiceClient, `127.0.0.1:${ex.port}`, { deadlineMillis: 10_000 });
      try {
        const list = await callUnary(client, 'listDomains', { hostId: 'h1' });
        expect(list.domains).toContainEqual({ name: 'berth-rt', state: 'running', vmId: 'rt' });
        const rt = await callUnary(client, 'getVmRuntime', { vmId: 'rt' });
        expect(rt).toMatchObject({ status: 'running', hostId: 'h1', domainState: 'running', domainName: 'berth-rt' });
        // The running domain's UUID, as libvirt itself reports it.
        expect(rt.domainUuid).toBe(virsh(lv.uri, 'domuuid', 'berth-rt').trim());
        expect(rt.domainUuid).not.toBe('');
        expect(rt.memory?.actualBytes).toBe(128 * 1024 ** 2);
        await expect(callUnary(client, 'getVmRuntime', { vmId: 'nope' })).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
        await expect(callUnary(client, 'listDomains', { hostId: '' })).rejects.toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
      } finally {
        client.close();
      }
    });
  },
);
