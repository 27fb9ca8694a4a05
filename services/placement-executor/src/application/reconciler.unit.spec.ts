import { describe, expect, it } from 'vitest';
import { DEFAULT_REALM, SimulatorFleet, type HypervisorDriver } from '@berth/hypervisor';
import { createLogger } from '@berth/observability';
import type { EventStreams } from '@berth/event-store';
import type { VmCommand } from '../domain/vm/commands.ts';
import { decide } from '../domain/vm/decide.ts';
import { evolve, initialState, type VmState } from '../domain/vm/state.ts';
import { Reconciler } from './reconciler.ts';
import type { Vms } from './vms.ts';

const request = {
  name: 'web',
  passthroughCpu: false,
  networks: [],
  claim: {
    vmId: 'vm1',
    hostId: 'h1',
    vcpus: 1,
    memoryBytes: 1024,
    pinnedCpus: [],
    numaCells: [],
    hugepages: [],
    devices: [],
    vfs: [],
    volumes: [],
    affinityGroups: [],
  },
};
const location = { vmId: 'vm1', hostId: 'h1', hypervisorUri: 'sim://h1', attempt: 1 };
const given = (...commands: VmCommand[]): VmState =>
  commands.reduce((s, c) => decide(c, s).reduce((t, e) => evolve(t, e), s), initialState());
const running = given(
  { type: 'Provision', location, request, domainName: 'berth-vm1', domainUuid: 'u', registrationDeadline: '2030-01-01T00:00:00Z' },
  { type: 'Advance', to: 'running', volumes: [] },
);
const deleting = given(
  { type: 'Provision', location, request, domainName: 'berth-vm1', domainUuid: 'u', registrationDeadline: '2030-01-01T00:00:00Z' },
  { type: 'Advance', to: 'running', volumes: [] },
  { type: 'RequestOperation', location, operation: 'delete', force: true, requestId: 'r1' },
);

/** The log as the reconciler reads it, one state per load; and what it records. */
function fakeVms(states: VmState[]) {
  const executed: string[] = [];
  const vms = {
    load: async () => (states.length > 1 ? states.shift()! : states[0]!),
    execute: async (_vmId: string, c: VmCommand) => {
      executed.push(c.type);
      return { state: running, appended: [] };
    },
  };
  return { vms: vms as unknown as Vms, executed };
}

function reconciler(vms: Vms, driver: HypervisorDriver) {
  return new Reconciler({
    vms,
    store: {} as EventStreams,
    driverFor: () => driver,
    realm: DEFAULT_REALM,
    policy: 'restart',
    logger: createLogger('reconciler-test', { level: 'fatal' }),
    directory: { hosts: async () => new Map([['h1', 'sim://h1']]), vmsOnHost: async () => [{ vmId: 'vm1' }] },
  });
}

describe('Reconciler', () => {
  it('restarts a running VM whose domain is gone', async () => {
    const fleet = new SimulatorFleet();
    fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 2 ** 34 });
    const { vms, executed } = fakeVms([running]);
    const report = await reconciler(vms, fleet.driver('sim://h1')).reconcileOnce();
    expect(report.drifts).toBe(1);
    expect(executed).toEqual(['ReportDrift', 'MarkStarted']);
    expect(await fleet.driver('sim://h1').state('vm1')).toBe('running');
  });

  it('leaves alone a domain that went because of a delete recorded after the log was first read', async () => {
    const fleet = new SimulatorFleet();
    fleet.addHost({ hostId: 'h1', cpus: 8, memoryBytes: 2 ** 34 });
    // First read: running, no request; by the time the domain is found missing, the delete is in the log.
    const { vms, executed } = fakeVms([running, deleting]);
    const report = await reconciler(vms, fleet.driver('sim://h1')).reconcileOnce();
    expect(report.drifts).toBe(0);
    expect(executed).toEqual([]);
    expect(await fleet.driver('sim://h1').state('vm1')).toBeUndefined();
  });

  it('removes a running domain of the VM on another host (a late define by a hypervisor that was frozen), keeps the VM where it runs', async () => {
    const fleet = new SimulatorFleet();
    for (const h of ['h1', 'h2']) fleet.addHost({ hostId: h, cpus: 8, memoryBytes: 2 ** 34 });
    const spec = { vmId: 'vm1', name: 'berth-vm1', uuid: 'u', vcpus: 1, memoryBytes: 1024 } as never;
    for (const h of ['h1', 'h2']) {
      await fleet.driver(`sim://${h}`).define(spec);
      await fleet.driver(`sim://${h}`).start('vm1');
    }
    const { vms } = fakeVms([running]);
    const r = new Reconciler({
      vms,
      store: {} as EventStreams,
      driverFor: (uri) => fleet.driver(uri),
      realm: DEFAULT_REALM,
      policy: 'restart',
      logger: createLogger('reconciler-test', { level: 'fatal' }),
      directory: {
        hosts: async () =>
          new Map([
            ['h1', 'sim://h1'],
            ['h2', 'sim://h2'],
          ]),
        vmsOnHost: async (hostId: string) => (hostId === 'h1' ? [{ vmId: 'vm1' }] : []),
      },
    });
    await r.reconcileOnce();
    expect(await fleet.driver('sim://h1').state('vm1')).toBe('running');
    expect(await fleet.driver('sim://h2').state('vm1')).toBeUndefined();
  });
});
