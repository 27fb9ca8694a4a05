import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import type { MigrationProgress } from '../driver.ts';
import { MigrationError } from '../errors.ts';
import { domainName } from '../naming.ts';
import { driverContract } from '../testing/contract.ts';
import { RemoteSimulator } from './remote-client.ts';
import { serveSimulator, type SimulatorServer } from './remote-server.ts';
import { SimulatorFleet } from './simulator.ts';

const GiB = 1024 ** 3;
const dir = mkdtempSync(join(tmpdir(), 'berth-remote-sim-'));
const servers: SimulatorServer[] = [];
afterAll(async () => {
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
});

// Over the wire (a unix socket), the simulator's hosts keep the drivers' contract.
driverContract('simulator daemon (unix socket)', async () => {
  const fleet = new SimulatorFleet();
  fleet.addHost({ hostId: 'contract', cpus: 8, memoryBytes: 16 * GiB, numaNodes: 2 });
  const server = await serveSimulator(fleet, { listen: `unix:${join(dir, 'contract.sock')}` });
  servers.push(server);
  return { driver: new RemoteSimulator(server.url).driver('sim://contract'), pool: 'default', domainName };
});

const spec = (vmId: string): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 1,
  memoryBytes: 2 * GiB,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [],
  lazyAllocation: true,
  diskCache: 'none',
  networks: [],
});

describe('a simulator daemon outlives its clients', () => {
  let server: SimulatorServer;
  beforeAll(async () => {
    // 1 GiB/s: a 2 GiB guest moves in about 2 s.
    const fleet = new SimulatorFleet({ migration: { defaultBandwidthBytesPerSecond: GiB, progressIntervalMillis: 50 } });
    for (const h of ['a', 'b']) fleet.addHost({ hostId: h, cpus: 8, memoryBytes: 64 * GiB });
    server = await serveSimulator(fleet, { listen: 'http://127.0.0.1:0' });
    servers.push(server);
  });

  it('migrates with progress; a stall holds the job until released, whoever asks', async () => {
    const one = new RemoteSimulator(server.url);
    await one.driver('sim://a').defineAndStart(spec('vm-1'));
    await one.injectMigrationFailure({ failure: 'stall', vmId: 'vm-1', atFraction: 0.5 });
    const progress: MigrationProgress[] = [];
    const moving = one.driver('sim://a').migrate('vm-1', { destinationUri: 'sim://b', onProgress: (p) => progress.push(p) });
    const other = new RemoteSimulator(server.url);
    await expect.poll(() => other.stalled(), { timeout: 10_000 }).toEqual(['vm-1']);
    const job = await other.driver('sim://a').migrationJob('vm-1');
    expect(job?.dataProcessedBytes).toBe(GiB);
    expect(await other.driver('sim://b').state('vm-1')).toBe('paused');
    expect(await other.releaseStall('vm-1')).toBe(1);
    await expect(moving).resolves.toEqual({ outcome: 'completed' });
    expect(progress.length).toBeGreaterThan(2);
    expect(await other.driver('sim://a').state('vm-1')).toBeUndefined();
    expect(await other.driver('sim://b').state('vm-1')).toBe('running');
    one.close();
    other.close();
  });

  it('a client that goes away mid-migration leaves the job running; the signal aborts it', async () => {
    const gone = new RemoteSimulator(server.url);
    await gone.driver('sim://a').defineAndStart(spec('vm-2'));
    await gone.injectMigrationFailure({ failure: 'stall', vmId: 'vm-2', atFraction: 0.25 });
    const call = gone
      .driver('sim://a')
      .migrate('vm-2', { destinationUri: 'sim://b' })
      .catch((e: unknown) => e);
    const next = new RemoteSimulator(server.url);
    await expect.poll(() => next.stalled(), { timeout: 10_000 }).toEqual(['vm-2']);
    gone.close(); // the caller dies: its connection closes under the call
    expect(await call).toBeInstanceOf(MigrationError);
    expect(await next.driver('sim://a').migrationJob('vm-2')).toBeDefined();
    await next.releaseStall('vm-2');
    await expect.poll(() => next.driver('sim://b').state('vm-2'), { timeout: 10_000 }).toBe('running');
    expect(await next.driver('sim://a').state('vm-2')).toBeUndefined();

    // Back to a, stalled, then aborted through the call's signal: the domain stays on the source.
    await next.injectMigrationFailure({ failure: 'stall', vmId: 'vm-2', atFraction: 0.5 });
    const ac = new AbortController();
    const back = next
      .driver('sim://b')
      .migrate('vm-2', { destinationUri: 'sim://a', signal: ac.signal })
      .catch((e: unknown) => e);
    await expect.poll(() => next.stalled(), { timeout: 10_000 }).toEqual(['vm-2']);
    ac.abort();
    const e = await back;
    expect(e).toBeInstanceOf(MigrationError);
    expect((e as MigrationError).failure).toBe('aborted');
    expect(await next.driver('sim://b').state('vm-2')).toBe('running');
    expect(await next.driver('sim://a').state('vm-2')).toBeUndefined();
    next.close();
  });

  it('an unreachable daemon is a transient failure', async () => {
    const nobody = new RemoteSimulator(`unix:${join(dir, 'nobody.sock')}`);
    await expect(nobody.driver('sim://a').state('x')).rejects.toMatchObject({ kind: 'transient' });
    nobody.close();
  });
});
