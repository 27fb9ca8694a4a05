/**
 * The first vertical slice, every service a real process: inventory, scheduler and
 * placement-executor over real Postgres and NATS, three libvirt hosts served by libvirtd daemons
 * running the built-in test driver. What libvirt runs is read with `virsh` itself, never through
 * Berth: 50 VMs composed through gRPC run as domains, pinned VMs' `vcpupin` sit on the cores their
 * claims hold (disjoint per host), deleting them removes domains and volumes, and a host that
 * fails provisioning ends with the VM running on another host.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { libvirtUsable, startTestLibvirtd, type TestLibvirtd } from '@berth/hypervisor/testing';
import { eventually, infraAvailable } from '@berth/testing';
import { byStream, readEventLog } from './harness/event-log.ts';
import { registerLibvirtHost, startStack, waitForSchedulerHosts, waitForSchedulerInSync, type Stack } from './harness/stack.ts';
import { domainStates, vcpuPins, virsh } from './harness/virsh.ts';
import { mapLimit } from './harness/wait.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const HOSTS = ['h1', 'h2', 'h3'] as const;
const POOL = 'default-pool'; // the test driver's own pool
// 50 VMs: every fourth has 2 dedicated (pinned) vCPUs, every fifth a 1 GiB disk, the rest 1 shared vCPU.
const VMS = Array.from({ length: 50 }, (_, i) => ({
  vmId: `vm-${String(i).padStart(2, '0')}`,
  pinned: i % 4 === 0,
  disk: i % 5 === 0,
}));
const domain = (vmId: string): string => `berth-${vmId}`;

describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable())(
  'libvirt slice: three test-driver hosts, every service a process',
  () => {
    const daemons = new Map<string, TestLibvirtd>();
    let stack: Stack;
    const uri = (hostId: string): string => daemons.get(hostId)!.uri;

    /** Every Berth domain libvirt has, per host, with its state as virsh prints it. */
    const berthDomains = async (): Promise<Map<string, { hostId: string; state: string }>> => {
      const found = new Map<string, { hostId: string; state: string }>();
      for (const hostId of HOSTS) {
        for (const [name, state] of await domainStates(uri(hostId))) {
          if (!name.startsWith('berth-')) continue;
          expect(found.has(name), `${name} defined on two hosts`).toBe(false);
          found.set(name, { hostId, state });
        }
      }
      return found;
    };
    const getVm = async (vmId: string): Promise<inventoryV1.Vm> => (await callUnary(stack.inventory, 'getVm', { vmId })).vm!;

    beforeAll(async () => {
      // Daemons and processes start side by side; whatever started is cleaned up by afterAll.
      const [[stackResult], daemonResults] = await Promise.all([
        Promise.allSettled([
          startStack('e2e_slice', {
            // Spread puts VMs (and pinned cores) on all three hosts instead of filling h1 first.
            scheduler: { SCHEDULER_POLICY: 'spread' },
            executor: { EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '3m', 'poll-frequency': '30s' }) },
          }),
        ]),
        Promise.allSettled(HOSTS.map((h) => startTestLibvirtd(`e2e-${h}`))),
      ]);
      daemonResults.forEach((r, i) => r.status === 'fulfilled' && daemons.set(HOSTS[i]!, r.value));
      if (stackResult?.status === 'fulfilled') stack = stackResult.value;
      for (const r of [stackResult, ...daemonResults]) if (r?.status === 'rejected') throw r.reason;
      for (const h of HOSTS) await registerLibvirtHost(stack.inventory, h, uri(h), { cpuOvercommit: 4, pool: POOL });
      await waitForSchedulerHosts(stack, HOSTS.length);
    });

    afterAll(async () => {
      await stack?.stop();
      await Promise.all([...daemons.values()].map((d) => d.stop()));
    });

    it('registers each host with the NUMA cells libvirt reports', async () => {
      const caps = await virsh(uri('h1'), 'capabilities');
      const host = (await callUnary(stack.inventory, 'getHost', { hostId: 'h1' })).host!;
      const cells = [...caps.matchAll(/<cell id='(\d+)'>/g)].length;
      expect(cells).toBeGreaterThan(1);
      expect(host.spec?.numaNodes).toHaveLength(cells);
      expect(host.spec?.cpus).toBe(host.spec?.numaNodes.reduce((n, c) => n + c.cpus.length, 0));
    });

    it('runs 50 VMs composed through gRPC as libvirt domains, pinned ones on disjoint claimed cores', async () => {
      const started = Date.now();
      await mapLimit(VMS, 8, (vm) =>
        callUnary(stack.inventory, 'composeVm', {
          meta: { commandId: `compose-${vm.vmId}` },
          vmId: vm.vmId,
          spec: modelV1.VmSpec.fromPartial({
            name: vm.vmId,
            vcpus: vm.pinned ? 2 : 1,
            memoryBytes: 128 * MiB,
            cpuPolicy: vm.pinned ? modelV1.CpuPolicy.CPU_POLICY_DEDICATED : modelV1.CpuPolicy.CPU_POLICY_SHARED,
            disks: vm.disk ? [{ sizeBytes: GiB, pool: '' }] : [],
          }),
        }),
      );

      // From libvirt: all 50 defined, each on exactly one host, each running.
      const domains = await eventually(
        async () => {
          const d = await berthDomains();
          return VMS.every((vm) => d.get(domain(vm.vmId))?.state === 'running') ? d : undefined;
        },
        'all 50 domains running in libvirt',
        180_000,
        1000,
      );
      const runningSeconds = (Date.now() - started) / 1000;
      expect(domains.size).toBe(VMS.length);
      const hostsUsed = new Set([...domains.values()].map((d) => d.hostId));
      expect(hostsUsed.size).toBe(HOSTS.length);

      const pinnedByHost = new Map<string, Set<number>>();
      for (const vm of VMS) {
        const record = await getVm(vm.vmId);
        const where = domains.get(domain(vm.vmId))!;
        expect(record.hostId, `${vm.vmId}: libvirt and inventory agree on the host`).toBe(where.hostId);
        const pins = await vcpuPins(uri(where.hostId), domain(vm.vmId));
        if (!vm.pinned) {
          expect(pins.size, `${vm.vmId} is shared: no vcpupin`).toBe(0);
          continue;
        }
        const claimed = record.claim?.pinnedCpus ?? [];
        expect(claimed).toHaveLength(2);
        // One vcpupin per vCPU, each on exactly one claimed core, in claim order.
        expect([...pins.keys()].sort()).toEqual([0, 1]);
        expect([0, 1].map((v) => pins.get(v))).toEqual(claimed.map((c) => [c]));
        const taken = pinnedByHost.get(where.hostId) ?? new Set<number>();
        for (const cpu of claimed) {
          expect(taken.has(cpu), `${vm.vmId}: core ${cpu} on ${where.hostId} pinned twice`).toBe(false);
          taken.add(cpu);
        }
        pinnedByHost.set(where.hostId, taken);
      }
      expect([...pinnedByHost.values()].reduce((n, s) => n + s.size, 0)).toBe(VMS.filter((v) => v.pinned).length * 2);

      // Disks are volumes in the host's pool.
      for (const vm of VMS.filter((v) => v.disk)) {
        const hostId = domains.get(domain(vm.vmId))!.hostId;
        expect(await virsh(uri(hostId), 'vol-list', POOL)).toContain(`${domain(vm.vmId)}-disk0`);
      }

      await eventually(
        async () =>
          (await callUnary(stack.inventory, 'listVms', { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_RUNNING })).vms.length ===
          VMS.length,
        'inventory to record all 50 running',
        60_000,
      );
      const perHost = HOSTS.map((h) => [...domains.values()].filter((d) => d.hostId === h).length);
      console.log(JSON.stringify({ vms: VMS.length, perHost, composeToAllRunningInVirshSeconds: runningSeconds }));
    });

    it('deletes them through gRPC: domains and volumes gone from libvirt, claims released', async () => {
      const started = Date.now();
      await mapLimit(VMS, 8, (vm) => callUnary(stack.inventory, 'deleteVm', { meta: { commandId: `delete-${vm.vmId}` }, vmId: vm.vmId }));
      await eventually(
        async () => ((await berthDomains()).size === 0 ? true : undefined),
        'every Berth domain gone from libvirt',
        180_000,
        1000,
      );
      console.log(JSON.stringify({ deleteToAllGoneFromVirshSeconds: (Date.now() - started) / 1000 }));
      for (const h of HOSTS) {
        expect(await virsh(uri(h), 'vol-list', POOL)).not.toMatch(/berth-vm-/);
        // The test driver's own domain is not Berth's and stays.
        expect((await domainStates(uri(h))).get('test')).toBe('running');
      }
      const hosts = await eventually(
        async () => {
          const list = (
            await callUnary(stack.inventory, 'listHosts', {
              state: modelV1.HostState.HOST_STATE_UNSPECIFIED,
              resourcePool: '',
              tag: '',
            })
          ).hosts;
          return list.every((h) => (h.usage?.vmCount ?? -1) === 0) ? list : undefined;
        },
        'every claim released',
        60_000,
      );
      expect(hosts).toHaveLength(HOSTS.length);
    });

    it('a provisioning failure on one host ends with the VM running on another', async () => {
      // h1 loses its storage pool behind Berth's back: creating a volume there fails permanently.
      await virsh(uri('h1'), 'pool-destroy', POOL);
      await virsh(uri('h1'), 'pool-undefine', POOL);
      // Three equal VMs on three equal empty hosts under spread: h1 takes at least one of them
      // (once the scheduler's view holds every release of the previous test).
      await waitForSchedulerInSync(stack);
      const ids = ['moved-0', 'moved-1', 'moved-2'];
      for (const vmId of ids) {
        await callUnary(stack.inventory, 'composeVm', {
          meta: { commandId: `compose-${vmId}` },
          vmId,
          spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 1, memoryBytes: 128 * MiB, disks: [{ sizeBytes: GiB, pool: '' }] }),
        });
      }
      const domains = await eventually(
        async () => {
          const d = await berthDomains();
          return ids.every((id) => d.get(domain(id))?.state === 'running') ? d : undefined;
        },
        'the three VMs running in libvirt',
        180_000,
        1000,
      );
      for (const id of ids) {
        expect(domains.get(domain(id))?.hostId, `${id} runs on a host with its pool`).not.toBe('h1');
      }
      expect((await domainStates(uri('h1'))).has(domain('moved-0'))).toBe(false);

      // From inventory's log (once it has heard the executor report them running): the VMs that
      // went to h1 first were released there and placed again.
      await eventually(
        async () => (await Promise.all(ids.map(getVm))).every((vm) => vm.status === inventoryV1.VmStatus.VM_STATUS_RUNNING),
        'inventory to record the three VMs running',
        60_000,
      );
      const streams = byStream(await readEventLog(stack.inventoryDb.url));
      const movedOff = ids.filter((id) => (streams.get(`vm-${id}`) ?? []).some((e) => e.type === 'VmPlaced' && e.data['hostId'] === 'h1'));
      expect(movedOff.length).toBeGreaterThanOrEqual(1);
      for (const id of movedOff) {
        const types = (streams.get(`vm-${id}`) ?? []).map((e) => e.type);
        const failed = types.indexOf('VmProvisionFailed');
        expect(failed, `${id} failed on h1`).toBeGreaterThan(0);
        expect(types.slice(failed)).toEqual(expect.arrayContaining(['VmRequested', 'VmPlaced', 'VmBecameRunning']));
        const failure = streams.get(`vm-${id}`)!.find((e) => e.type === 'VmProvisionFailed')!;
        expect(failure.data['hostId']).toBe('h1');
        expect(String(failure.data['reason'])).toMatch(new RegExp(POOL));
        const vm = await getVm(id);
        expect(vm.excludedHosts).toContain('h1');
        expect(vm.hostId).toBe(domains.get(domain(id))!.hostId);
      }
      const h1 = (await callUnary(stack.inventory, 'getHost', { hostId: 'h1' })).host!;
      expect(h1.claims.map((c) => c.vmId)).toEqual([]);
    });
  },
);
