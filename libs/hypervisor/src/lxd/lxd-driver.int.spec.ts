import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LifecycleEvent } from '../driver.ts';
import { contractSpec, driverContract } from '../testing/contract.ts';
import { lxdUsable, makeClientCertificate, startTestLxd, type TestLxd } from '../testing/lxd.ts';
import { enrollWithTrustToken } from './trust.ts';
import { lxdInstanceName } from './instance.ts';
import { LxdDriver, RECONNECTED } from './lxd-driver.ts';

// One real LXD daemon for the whole file (about 2 s to start); containers from a busybox image made here.
const usable = lxdUsable();
let lxd: TestLxd | undefined;
const daemon = async (): Promise<TestLxd> => (lxd ??= await startTestLxd({ label: 'driver' }));
const containerUri = (l: TestLxd): string => `${l.socketUri}?instance-type=container&image=${l.image}`;

interface Instance {
  readonly name: string;
  readonly status: string;
  readonly config: Record<string, string>;
  readonly devices: Record<string, Record<string, string>>;
}

describe.skipIf(!usable)('LxdDriver against a real LXD daemon (containers)', () => {
  afterAll(async () => {
    await lxd?.stop();
  });

  driverContract('lxd (unix socket, containers)', async () => {
    const l = await daemon();
    const driver = new LxdDriver({ uri: containerUri(l), callTimeoutMillis: 30_000 });
    return {
      driver,
      pool: 'default',
      domainName: lxdInstanceName,
      volumes: async () => (await l.api<string[]>('/1.0/storage-pools/default/volumes')).map((u) => u.split('/').pop() ?? ''),
      isVolumeOf: (vmId, v) => v === lxdInstanceName(vmId) || v.startsWith(`${lxdInstanceName(vmId)}-disk`),
      cleanup: () => driver.close(),
    };
  });

  describe('LXD specifics', () => {
    let l: TestLxd;
    let driver: LxdDriver;
    beforeAll(async () => {
      l = await daemon();
      driver = new LxdDriver({ uri: containerUri(l), callTimeoutMillis: 30_000, reconnectMillis: 100 });
    });
    afterAll(async () => {
      await driver?.close();
    });

    it("sets the claimed limits, read back through LXD's API and the container's cgroup", async () => {
      await driver.defineAndStart(
        contractSpec('lim', {
          vcpus: 1,
          pinnedCpus: [0],
          memoryBytes: 96 * 1024 ** 2,
          volumes: [
            { name: 'berth-lim-disk0', pool: 'default', sizeBytes: 256 * 1024 ** 2 },
            { name: 'berth-lim-disk1', pool: 'default', sizeBytes: 64 * 1024 ** 2 },
          ],
        }),
      );
      const inst = await l.api<Instance>('/1.0/instances/berth-lim');
      expect(inst.config['limits.cpu']).toBe('0-0');
      expect(inst.config['limits.memory']).toBe(`${96 * 1024 ** 2}B`);
      expect(inst.config['user.berth.vm-id']).toBe('lim');
      expect(inst.devices['root']).toMatchObject({ path: '/', pool: 'default', size: `${256 * 1024 ** 2}B` });
      expect(inst.devices['disk1']).toMatchObject({ source: 'berth-lim-disk1', path: '/mnt/disk1' });
      const vol = await l.api<{ content_type: string; config: Record<string, string> }>(
        '/1.0/storage-pools/default/volumes/custom/berth-lim-disk1',
      );
      expect(vol).toMatchObject({ content_type: 'filesystem', config: { size: `${64 * 1024 ** 2}B` } });
      // The running container's cgroup carries the limits LXD applied.
      expect((await l.lxc('exec', 'berth-lim', '--', 'cat', '/proc/self/status')).match(/Cpus_allowed_list:\s*(\S+)/)?.[1]).toBe('0');
      await driver.setBalloonTarget('lim', 80 * 1024 ** 2);
      expect((await l.api<Instance>('/1.0/instances/berth-lim')).config['limits.memory']).toBe(`${80 * 1024 ** 2}B`);
      const stats = await driver.memoryStats('lim');
      expect(stats.actualBytes).toBe(80 * 1024 ** 2);
      expect(stats.rssBytes).toBeGreaterThan(0);
      await driver.undefine('lim');
      expect((await l.api<string[]>('/1.0/instances')).join()).not.toContain('berth-lim');
      expect((await l.api<string[]>('/1.0/storage-pools/default/volumes/custom')).join()).not.toContain('berth-lim-disk1');
    });

    it('forces off a guest that ignores the shutdown request after the graceful timeout', async () => {
      await driver.defineAndStart(contractSpec('stubborn'));
      await l.lxc('exec', 'berth-stubborn', '--', 'touch', '/stubborn');
      expect(await driver.stop('stubborn', { gracefulTimeoutMillis: 1000 })).toBe('forced');
      expect(await driver.state('stubborn')).toBe('shut-off');
      await driver.undefine('stubborn');
    });

    it('gives long or dotted VM ids a valid, stable instance name and still maps it back', async () => {
      const id = 'tenant_a.vm.0123456789-0123456789-0123456789-0123456789-012345';
      await driver.define(contractSpec(id));
      await driver.define(contractSpec(id));
      const name = lxdInstanceName(id);
      expect(name.length).toBeLessThanOrEqual(63);
      expect((await l.api<Instance>(`/1.0/instances/${name}`)).config['user.berth.vm-id']).toBe(id);
      const fresh = new LxdDriver({ uri: containerUri(l) });
      expect((await fresh.listDomains()).filter((x) => x.vmId === id)).toEqual([{ name, vmId: id, state: 'shut-off' }]);
      await fresh.close();
      await driver.undefine(id);
    });

    it('reports an operation that ends in Failure as a permanent error (a GPU that is not there)', async () => {
      await driver.define(contractSpec('nogpu', { hostdevs: ['0000:7f:1f.7'] }));
      const err = await driver.start('nogpu').catch((e: unknown) => e);
      expect(err).toMatchObject({ kind: 'permanent' });
      expect(String(err)).toMatch(/gpu0/i);
      await driver.undefine('nogpu');
    });

    it('classifies an unreachable daemon as transient and a malformed URI as permanent', async () => {
      const dead = new LxdDriver({ uri: 'lxd+unix:///nonexistent/unix.socket?instance-type=container&image=x', callTimeoutMillis: 3000 });
      await expect(dead.listDomains()).rejects.toMatchObject({ kind: 'transient' });
      await dead.close();
      const malformed = new LxdDriver({ uri: 'lxd+unix:///x?instance-type=container' });
      await expect(malformed.state('x')).rejects.toMatchObject({ kind: 'permanent', message: expect.stringMatching(/image/) });
      await expect(new LxdDriver({ uri: 'https://127.0.0.1:1' }).listDomains()).rejects.toMatchObject({
        kind: 'permanent',
        message: expect.stringMatching(/client certificate/),
      });
    });

    it('keeps its events websocket across a daemon restart, and calls work again afterwards', async () => {
      const seen: LifecycleEvent[] = [];
      const sub = await driver.events((e) => seen.push(e));
      await driver.defineAndStart(contractSpec('survivor'));
      await expect.poll(() => seen.some((e) => e.vmId === 'survivor' && e.kind === 'started')).toBe(true);
      await l.restart();
      // SIGTERM stops only the daemon: the container survives and the new daemon picks it up.
      expect(await driver.state('survivor')).toBe('running');
      await expect.poll(() => seen.some((e) => e.detail === RECONNECTED), { timeout: 15_000 }).toBe(true);
      await driver.destroy('survivor');
      await expect.poll(() => seen.filter((e) => e.vmId === 'survivor').map((e) => e.kind), { timeout: 15_000 }).toContain('stopped');
      await sub.close();
      await driver.undefine('survivor');
    });
  });

  describe('HTTPS with a client certificate', () => {
    let l: TestLxd;
    beforeAll(async () => {
      l = await daemon();
    });

    it('enrolls with a trust token, pins the server certificate and drives instances', async () => {
      const creds = makeClientCertificate('berth-token');
      const token = await l.trustToken('berth-executor');
      const uri = await enrollWithTrustToken(l.httpsUri, token, creds);
      expect(uri).toBe(`${l.httpsUri}?fingerprint=${l.fingerprint}`);
      const driver = new LxdDriver({ uri: `${uri}&instance-type=container&image=${l.image}`, credentials: creds });
      const seen: LifecycleEvent[] = [];
      const sub = await driver.events((e) => seen.push(e));
      await driver.defineAndStart(contractSpec('tls'));
      expect((await l.api<Instance>('/1.0/instances/berth-tls')).status).toBe('Running');
      await expect.poll(() => seen.some((e) => e.vmId === 'tls' && e.kind === 'started')).toBe(true);
      await driver.undefine('tls');
      await sub.close();
      await driver.close();
      // The token was single-use.
      await expect(enrollWithTrustToken(l.httpsUri, token, makeClientCertificate('again'))).rejects.toMatchObject({ kind: 'permanent' });
    });

    it('works with an already-trusted certificate and refuses an untrusted one or a wrong server', async () => {
      const trusted = makeClientCertificate('berth-trusted');
      await l.trust(trusted.certPem);
      const ok = new LxdDriver({
        uri: `${l.httpsUri}?fingerprint=${l.fingerprint}&instance-type=container&image=${l.image}`,
        credentials: trusted,
      });
      expect(Array.isArray(await ok.listDomains())).toBe(true);
      await ok.close();

      const stranger = new LxdDriver({
        uri: `${l.httpsUri}?fingerprint=${l.fingerprint}&instance-type=container&image=${l.image}`,
        credentials: makeClientCertificate('stranger'),
      });
      const refused = await stranger.listDomains().catch((e: unknown) => e);
      expect(refused).toMatchObject({ kind: 'permanent' });
      expect(String(refused)).toMatch(/403|not authorized|forbidden/i);
      await expect(stranger.events(() => undefined)).rejects.toMatchObject({ kind: 'permanent' });
      await stranger.close();

      const impostor = new LxdDriver({
        uri: `${l.httpsUri}?fingerprint=${'0'.repeat(64)}&instance-type=container&image=${l.image}`,
        credentials: trusted,
      });
      const pinned = await impostor.listDomains().catch((e: unknown) => e);
      expect(pinned).toMatchObject({ kind: 'permanent' });
      expect(String(pinned)).toMatch(/fingerprint/);
      await impostor.close();
    });
  });
});
