import { describe, expect, it } from 'vitest';
import type { migrationEvents } from '@berth/contracts';
import type { ExecutorAnswer, MigrationCommand } from './commands.ts';
import { decideMigration } from './decide.ts';
import type { MigrationEvent } from './events.ts';
import { evolveMigration, foldMigration, type Migration } from './state.ts';
import { DEFAULT_TEST_POLICY } from '../../testing/migration-policy.ts';

const GiB = 1024 ** 3;
const request: migrationEvents.MigrationRequested = {
  migrationId: 'm1',
  vmId: 'vm1',
  vmName: 'web-1',
  trigger: 'manual',
  sourceHostId: 'h1',
  sourceHypervisorUri: 'sim://h1',
  requestedDestination: '',
  memoryBytes: 2 * GiB,
  policy: DEFAULT_TEST_POLICY,
  warning: '',
  reason: 'test',
};
const AT = '2026-12-06T05:00:00.000Z';

function history(...commands: MigrationCommand[]): MigrationEvent[] {
  let h: MigrationEvent[] = [];
  for (const c of commands) h = [...h, ...decideMigration(c, foldMigration(h))];
  return h;
}
const claimedOnH2 = (): MigrationEvent[] =>
  history(
    { type: 'RequestMigration', request },
    { type: 'RecordDestinationChosen', attempt: 1, hostId: 'h2', generation: 3, claim: {}, explanation: 'best', now: AT },
    {
      type: 'RecordDestinationClaimed',
      attempt: 1,
      hypervisorUri: 'sim://h2',
      generation: 4,
      claim: {
        vmId: 'vm1',
        hostId: 'h2',
        vcpus: 1,
        memoryBytes: 1024 ** 3,
        pinnedCpus: [],
        numaCells: [],
        hugepages: [],
        devices: [],
        vfs: [],
        volumes: [],
        affinityGroups: [],
      },
    },
  );
const probe = (answer: ExecutorAnswer, attempt = 1): MigrationCommand => ({
  type: 'RecordExecutorProbe',
  attempt,
  at: AT,
  silentMillis: 61_000,
  answer,
});
const vm = (hostId: string, migrationId = '', migrationAttempt = 0): ExecutorAnswer => ({
  kind: 'vm',
  status: 'running',
  hostId,
  migrationId,
  migrationAttempt,
});
const when = (h: MigrationEvent[], c: MigrationCommand): { types: string[]; after: Migration; events: MigrationEvent[] } => {
  const events = decideMigration(c, foldMigration(h));
  return { events, types: events.map((e) => e.type), after: events.reduce(evolveMigration, foldMigration(h)) };
};

describe('the executor-silence watchdog (decider)', () => {
  it.each([
    ['the attempt under way in its log: recorded, waited on', vm('h1', 'm1', 1), ['ExecutorProbed'], 'destination-claimed', 'under-way'],
    [
      'the VM on the destination, nothing under way: the lost switch-over',
      vm('h2'),
      ['ExecutorProbed', 'SwitchedOver'],
      'switched-over',
      'switched-over',
    ],
    [
      'the VM on the source, nothing under way: the attempt failed',
      vm('h1'),
      ['ExecutorProbed', 'AttemptFailed'],
      'releasing-destination',
      'not-running',
    ],
    [
      'no record of the VM: the attempt failed',
      { kind: 'unknown-vm' } as const,
      ['ExecutorProbed', 'AttemptFailed'],
      'releasing-destination',
      'not-running',
    ],
    [
      'unreachable: recorded, asked again later',
      { kind: 'unreachable', detail: 'UNAVAILABLE' } as const,
      ['ExecutorProbed'],
      'destination-claimed',
      'unreachable',
    ],
    ['another attempt under way: recorded only', vm('h1', 'm1', 2), ['ExecutorProbed'], 'destination-claimed', 'unexpected'],
    ['the VM on a third host: recorded only', vm('h9'), ['ExecutorProbed'], 'destination-claimed', 'unexpected'],
  ])('%s', (_name, answer, types, status, outcome) => {
    const r = when(claimedOnH2(), probe(answer));
    expect(r.types).toEqual(types);
    expect(r.after.status).toBe(status);
    const probed = r.events.find((e) => e.type === 'ExecutorProbed');
    expect(probed?.data).toMatchObject({ attempt: 1, at: AT, outcome, silentMillis: 61_000 });
    // the probe is kept with its attempt, with its time
    expect(r.after.status !== 'absent' && r.after.attempts[0]?.probes).toEqual([
      { at: AT, outcome, detail: probed?.type === 'ExecutorProbed' ? probed.data.detail : undefined, silentMillis: 61_000 },
    ]);
  });

  it('a failed attempt releases its destination and retries elsewhere; its reason says why', () => {
    const r = when(claimedOnH2(), probe(vm('h1')));
    expect(r.after.status === 'releasing-destination' && r.after.then).toBe('retry');
    const failed = r.events.find((e) => e.type === 'AttemptFailed');
    expect(failed?.data).toMatchObject({ attempt: 1, hostId: 'h2', stage: 'copy' });
    expect(failed?.type === 'AttemptFailed' && failed.data.reason).toMatch(/said nothing for 61 s and has no migration under way/);
  });

  it('while cancelling, an attempt the executor does not carry out ends the migration aborted', () => {
    const h = [...claimedOnH2(), ...history()];
    const cancelled = [...h, ...decideMigration({ type: 'Cancel', reason: 'operator' }, foldMigration(h))];
    const r = when(cancelled, probe(vm('h1')));
    expect(r.after.status === 'releasing-destination' && r.after.then).toBe('abort');
  });

  it('changes nothing for another attempt, or once the migration moved on', () => {
    expect(when(claimedOnH2(), probe(vm('h2'), 2)).types).toEqual([]);
    const switched = [
      ...claimedOnH2(),
      ...decideMigration({ type: 'RecordSwitchedOver', attempt: 1, hostId: 'h2' }, foldMigration(claimedOnH2())),
    ];
    expect(when(switched, probe(vm('h1'))).types).toEqual([]);
  });
});
