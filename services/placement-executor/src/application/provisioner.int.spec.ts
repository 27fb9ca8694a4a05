import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, migrateEventStore, PostgresEventStore } from '@berth/event-store';
import { parseLibvirtRealm, SimulatorFleet } from '@berth/hypervisor';
import { createLogger } from '@berth/observability';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { claimFor } from '../testing/fake-inventory.ts';
import type { VmCommand } from '../domain/vm/commands.ts';
import { Provisioner } from './provisioner.ts';
import { Vms } from './vms.ts';

// The provisioner's retry, timeout and compensation rules, against a real log. The hypervisor is
// the simulator here on purpose: these are the executor's rules, not libvirt's behaviour.
describe.skipIf(!(await infraAvailable('postgres')))('Provisioner rules', () => {
  let db: TestDatabase;
  let kysely: ReturnType<typeof createKysely>;
  let vms: Vms;
  const fleet = new SimulatorFleet();
  const uri = fleet.addHost({ hostId: 's1', cpus: 64, memoryBytes: 2 ** 40 });
  const realm = parseLibvirtRealm({ 'registration-timeout': '1500ms' });
  let p: Provisioner;

  const provision = (vmId: string, deadlineMillis = realm.registrationTimeoutMillis): VmCommand => ({
    type: 'Provision',
    location: { vmId, hostId: 's1', hypervisorUri: uri, attempt: 1 },
    request: { name: vmId, claim: claimFor(vmId, 's1'), passthroughCpu: false, networks: [] },
    domainName: `berth-${vmId}`,
    domainUuid: 'x',
    registrationDeadline: new Date(Date.now() + deadlineMillis).toISOString(),
  });

  beforeAll(async () => {
    db = await createTestDatabase('provisioner');
    kysely = createKysely(db.url);
    await migrateEventStore(kysely);
    vms = new Vms(new PostgresEventStore(kysely));
    p = new Provisioner({
      vms,
      driverFor: (u) => fleet.driver(u),
      realm,
      logger: createLogger('provisioner-test'),
      concurrency: 4,
      stopTimeoutMillis: 100,
      retryDelaysMillis: [50, 100],
      registrationPollMillis: 50,
    });
  });
  afterAll(async () => {
    await p?.stop();
    await kysely?.destroy();
    await db?.drop();
  });

  it('retries transient errors with backoff and then succeeds', async () => {
    fleet.injectFailure('s1', 'define', 'transient', 3);
    await vms.execute('t1', provision('t1'));
    p.kick('t1');
    await p.idle();
    expect(await vms.load('t1')).toMatchObject({ status: 'running' });
    expect(await fleet.driver(uri).state('t1')).toBe('running');
  });

  it('fails with the registration-timeout reason when transient errors outlast it, and cleans up', async () => {
    fleet.injectFailure('s1', 'start', 'transient', 1000);
    await vms.execute('t2', provision('t2'));
    p.kick('t2');
    await p.idle();
    const s = await vms.load('t2');
    expect(s).toMatchObject({ status: 'failed', permanent: false });
    expect(s.status === 'failed' && s.reason).toMatch(/registration-timeout \(1500 ms\).*injected failure/);
    expect(await fleet.driver(uri).state('t2')).toBeUndefined();
    fleet.clearFailures('s1');
  });

  it('a permanent error fails at once, permanently', async () => {
    fleet.injectFailure('s1', 'define', 'permanent', 1);
    await vms.execute('t3', provision('t3'));
    p.kick('t3');
    await p.idle();
    expect(await vms.load('t3')).toMatchObject({ status: 'failed', permanent: true, reason: expect.stringMatching(/injected/) as string });
  });

  it('a delete that arrives while provisioning removes the domain and ends deleted', async () => {
    await vms.execute('t4', provision('t4'));
    await vms.execute('t4', {
      type: 'RequestOperation',
      location: { vmId: 't4', hostId: 's1', hypervisorUri: uri, attempt: 0 },
      operation: 'delete',
      force: true,
      requestId: 'r',
    });
    p.kick('t4');
    await p.idle();
    expect(await vms.load('t4')).toMatchObject({ status: 'deleted' });
    expect(await fleet.driver(uri).state('t4')).toBeUndefined();
  });
});
