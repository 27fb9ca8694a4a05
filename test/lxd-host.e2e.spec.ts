/**
 * An LXD host end to end, every service a real process: a private LXD daemon (HTTPS on a free
 * port), registered with `berth hosts add --uri https://… --lxd-trust-token …` (the CLI has the host
 * trust the executor's client certificate, pins the server certificate in the URI and reads the
 * host's facts from LXD), VMs composed through gRPC, checked through LXD's own API (never through
 * Berth), deleted through gRPC with their instances and volumes.
 *
 * The host URI says `instance-type=container`: there is no KVM on these machines, so LXD VMs cannot
 * start here; a container host is a real LXD product mode (Berth places system containers from the
 * URI's image), and it exercises the same driver paths (create with limits and devices, volumes,
 * start, state, stop, delete, events) as VMs do. The VM-only config is validated by LXD itself in
 * libs/hypervisor/src/lxd/lxd-vm.int.spec.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { lxdUsable, makeClientCertificate, startTestLxd, type TestLxd } from '@berth/hypervisor/testing';
import { eventually, infraAvailable } from '@berth/testing';
import { startStack, waitForSchedulerHosts, type Stack } from './harness/stack.ts';

const tlsEnvOfThisProcess = (): Record<string, string> =>
  Object.fromEntries(Object.entries(process.env).filter((e): e is [string, string] => e[0].startsWith('BERTH_TLS_') && e[1] !== undefined));

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

interface Instance {
  readonly name: string;
  readonly status: string;
  readonly config: Record<string, string>;
  readonly devices: Record<string, Record<string, string>>;
}

describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !lxdUsable())('an LXD host: composed VMs become LXD instances', () => {
  let lxd: TestLxd;
  let stack: Stack;
  let certDir: string;
  const instances = async (): Promise<Instance[]> =>
    (await lxd.api<Instance[]>('/1.0/instances?recursion=1')).filter((i) => i.name.startsWith('berth-'));
  const customVolumes = async (): Promise<string[]> =>
    (await lxd.api<string[]>('/1.0/storage-pools/default/volumes/custom')).map((u) => u.split('/').pop() ?? '');

  beforeAll(async () => {
    certDir = mkdtempSync(join(tmpdir(), 'berth-e2e-lxd-cert-'));
    const creds = makeClientCertificate('berth-executor');
    writeFileSync(join(certDir, 'client.crt'), creds.certPem);
    writeFileSync(join(certDir, 'client.key'), creds.keyPem, { mode: 0o600 });
    const [lxdResult, stackResult] = await Promise.allSettled([
      startTestLxd({ label: 'e2e' }),
      startStack('e2e_lxd', {
        executor: {
          EXECUTOR_LXD_CERT: join(certDir, 'client.crt'),
          EXECUTOR_LXD_KEY: join(certDir, 'client.key'),
          EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '2m', 'poll-frequency': '30s' }),
          EXECUTOR_STOP_TIMEOUT: '5s',
        },
      }),
    ]);
    if (lxdResult.status === 'fulfilled') lxd = lxdResult.value;
    if (stackResult.status === 'fulfilled') stack = stackResult.value;
    for (const r of [lxdResult, stackResult]) if (r.status === 'rejected') throw r.reason;
  });

  afterAll(async () => {
    await stack?.stop();
    await lxd?.stop();
    if (certDir) rmSync(certDir, { recursive: true, force: true });
  });

  it('registers the host with `berth hosts add --uri https://… --lxd-trust-token`, facts read from LXD', async () => {
    const out: string[] = [];
    const err: string[] = [];
    const token = await lxd.trustToken('berth-executor');
    const code = await runCli(
      [
        'hosts',
        'add',
        'lxd-1',
        '--id',
        'lxd-1',
        '--uri',
        `${lxd.httpsUri}?instance-type=container&image=${lxd.image}`,
        '--lxd-trust-token',
        token,
        '--lxd-cert',
        join(certDir, 'client.crt'),
        '--lxd-key',
        join(certDir, 'client.key'),
        '--from-lxd',
        '--storage',
        'name=default,size=20GiB,default',
        '--cpu-overcommit',
        '4',
        '--inventory',
        stack.services.inventory.address,
        '--json',
      ],
      // the CLI as the test's operator (its BERTH_TLS_* in the harness's TLS mode; none in plaintext)
      { env: tlsEnvOfThisProcess(), io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } },
    );
    expect(code, err.join('\n')).toBe(0);
    const host = (await callUnary(stack.inventory, 'getHost', { hostId: 'lxd-1' })).host!;
    expect(host.spec?.hypervisorUri).toBe(
      `${lxd.httpsUri}/?instance-type=container&image=${lxd.image}&fingerprint=${lxd.fingerprint}`.replace('/?', '?'),
    );
    const resources = await lxd.api<{ cpu: { total: number }; memory: { total: number } }>('/1.0/resources');
    expect(host.spec?.cpus).toBe(resources.cpu.total);
    expect(host.spec?.memoryBytes).toBe(resources.memory.total);
    expect(host.spec?.numaNodes.flatMap((n) => n.cpus)).toHaveLength(resources.cpu.total);
    // The executor's certificate is now trusted by LXD.
    expect((await lxd.api<{ name: string }[]>('/1.0/certificates?recursion=1')).map((c) => c.name)).toContain('berth-executor');
    await waitForSchedulerHosts(stack, 1);
  });

  it('runs VMs composed through gRPC as LXD instances with the claimed limits and disks', async () => {
    const vms = [
      { vmId: 'lx-shared', spec: { name: 'shared', vcpus: 1, memoryBytes: 64 * MiB } },
      {
        vmId: 'lx-pinned',
        spec: { name: 'pinned', vcpus: 1, memoryBytes: 96 * MiB, cpuPolicy: modelV1.CpuPolicy.CPU_POLICY_DEDICATED },
      },
      {
        vmId: 'lx-disks',
        spec: {
          name: 'disks',
          vcpus: 1,
          memoryBytes: 64 * MiB,
          disks: [
            { sizeBytes: GiB, pool: '' },
            { sizeBytes: GiB / 2, pool: '' },
          ],
        },
      },
    ];
    for (const vm of vms) {
      await callUnary(stack.inventory, 'composeVm', {
        meta: { commandId: `compose-${vm.vmId}` },
        vmId: vm.vmId,
        spec: modelV1.VmSpec.fromPartial(vm.spec),
      });
    }
    const running = await eventually(
      async () => {
        const list = await instances();
        return vms.every((vm) => list.find((i) => i.name === `berth-${vm.vmId}`)?.status === 'Running') ? list : undefined;
      },
      'the three instances running in LXD',
      120_000,
      500,
    );
    const by = new Map(running.map((i) => [i.name, i]));
    expect(by.get('berth-lx-shared')?.config).toMatchObject({
      'limits.cpu': '1',
      'limits.memory': `${64 * MiB}B`,
      'user.berth.vm-id': 'lx-shared',
    });
    const claim = (await callUnary(stack.inventory, 'getVm', { vmId: 'lx-pinned' })).vm!.claim!;
    expect(claim.pinnedCpus).toHaveLength(1);
    expect(by.get('berth-lx-pinned')?.config['limits.cpu']).toBe(`${claim.pinnedCpus[0]}-${claim.pinnedCpus[0]}`);
    expect(by.get('berth-lx-disks')?.devices['root']).toMatchObject({ pool: 'default', size: `${GiB}B` });
    expect(by.get('berth-lx-disks')?.devices['disk1']).toMatchObject({ pool: 'default', source: 'berth-lx-disks-disk1' });
    expect(await customVolumes()).toContain('berth-lx-disks-disk1');
    await eventually(
      async () => {
        const list = (await callUnary(stack.inventory, 'listVms', { hostId: 'lxd-1', status: inventoryV1.VmStatus.VM_STATUS_RUNNING })).vms;
        return list.length === vms.length;
      },
      'inventory to record the three running',
      60_000,
    );
  });

  it('stops and starts through gRPC, and deleting removes the instances and their volumes', async () => {
    await callUnary(stack.inventory, 'stopVm', { meta: { commandId: 'stop-lx-shared' }, vmId: 'lx-shared', force: false });
    await eventually(
      async () => (await instances()).find((i) => i.name === 'berth-lx-shared')?.status === 'Stopped',
      'lx-shared stopped in LXD',
      60_000,
    );
    await eventually(
      async () => (await callUnary(stack.inventory, 'getVm', { vmId: 'lx-shared' })).vm?.status === inventoryV1.VmStatus.VM_STATUS_STOPPED,
      'inventory to record lx-shared stopped',
      60_000,
    );
    await callUnary(stack.inventory, 'startVm', { meta: { commandId: 'start-lx-shared' }, vmId: 'lx-shared' });
    await eventually(
      async () => (await instances()).find((i) => i.name === 'berth-lx-shared')?.status === 'Running',
      'lx-shared running again in LXD',
      60_000,
    );
    for (const vmId of ['lx-shared', 'lx-pinned', 'lx-disks']) {
      await callUnary(stack.inventory, 'deleteVm', { meta: { commandId: `delete-${vmId}` }, vmId });
    }
    await eventually(async () => (await instances()).length === 0, 'every Berth instance gone from LXD', 120_000, 500);
    expect((await customVolumes()).filter((v) => v.startsWith('berth-'))).toEqual([]);
    expect((await lxd.api<string[]>('/1.0/storage-pools/default/volumes')).filter((v) => v.includes('berth-'))).toEqual([]);
    const host = await eventually(
      async () => {
        const h = (await callUnary(stack.inventory, 'getHost', { hostId: 'lxd-1' })).host!;
        return (h.usage?.vmCount ?? -1) === 0 ? h : undefined;
      },
      'the claims released',
      60_000,
    );
    expect(host.claims).toEqual([]);
  });
});
