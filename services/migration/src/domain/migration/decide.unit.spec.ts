import { IllegalStateError } from '@berth/errors';
import { describe, expect, it } from 'vitest';
import type { migrationEvents } from '@berth/contracts';
import type { Claim } from '@berth/fit';
import type { MigrationCommand } from './commands.ts';
import { decideMigration, retryDelayMillis } from './decide.ts';
import type { MigrationEvent } from './events.ts';
import { evolveMigration, excludedHosts, foldMigration, initialMigration, type Migration } from './state.ts';
import { DEFAULT_TEST_POLICY } from '../../testing/migration-policy.ts';

const GiB = 1024 ** 3;
const policy = DEFAULT_TEST_POLICY;
const request: migrationEvents.MigrationRequested = {
  migrationId: 'm1',
  vmId: 'vm1',
  vmName: 'web-1',
  trigger: 'manual',
  sourceHostId: 'h1',
  sourceHypervisorUri: 'sim://h1',
  requestedDestination: '',
  memoryBytes: 2 * GiB,
  policy,
  warning: '',
  reason: 'test',
};
const NOW = '2026-12-05T23:00:00.000Z';

/** given(events).when(command) -> the events decided (and the state after them). */
function given(...history: MigrationEvent[]) {
  const state = (): Migration => foldMigration(history);
  return {
    state,
    when(c: MigrationCommand) {
      const events = decideMigration(c, state());
      return { events, types: events.map((e) => e.type), after: events.reduce(evolveMigration, state()) };
    },
  };
}

/** Runs commands one after the other from nothing and returns every event. */
function run(...commands: MigrationCommand[]): MigrationEvent[] {
  let history: MigrationEvent[] = [];
  for (const c of commands) history = [...history, ...decideMigration(c, foldMigration(history))];
  return history;
}

const requested = (): MigrationCommand => ({ type: 'RequestMigration', request });
const chosen = (attempt: number, hostId: string): MigrationCommand => ({
  type: 'RecordDestinationChosen',
  attempt,
  hostId,
  generation: 7,
  claim: { vmId: 'vm1', hostId },
  explanation: 'best',
  now: NOW,
});
/** A destination claim with the destination's own pinning and NUMA cell (not the source's). */
const destinationClaim = (hostId: string): Claim => ({
  vmId: 'vm1',
  hostId,
  vcpus: 2,
  memoryBytes: 2 * 1024 ** 3,
  pinnedCpus: [6, 7],
  numaCells: [{ guestCell: 0, hostNode: 1, cpus: [6, 7], memoryBytes: 2 * 1024 ** 3, vcpus: 2 }],
  hugepages: [],
  devices: [],
  vfs: [],
  volumes: [{ diskIndex: 0, pool: 'fast', sizeBytes: 1024 ** 3 }],
  affinityGroups: [],
});
const claimed = (attempt: number, hostId: string): MigrationCommand => ({
  type: 'RecordDestinationClaimed',
  attempt,
  hypervisorUri: `sim://${hostId}`,
  generation: 8,
  claim: destinationClaim(hostId),
});
const released = (attempt: number): MigrationCommand => ({ type: 'RecordDestinationReleased', attempt, now: NOW, backoffMillis: 1000 });

describe('migration decider', () => {
  it('walks requested -> chosen -> claimed -> migrating -> switched over -> source released -> completed', () => {
    const h = run(
      requested(),
      chosen(1, 'h2'),
      claimed(1, 'h2'),
      { type: 'RecordCopyStarted', attempt: 1 },
      {
        type: 'RecordProgress',
        attempt: 1,
        progress: { dataTotalBytes: 10, dataProcessedBytes: 5, dataRemainingBytes: 5, elapsedMillis: 100, phase: 'precopy' },
      },
      { type: 'RecordSwitchedOver', attempt: 1, hostId: 'h2' },
      { type: 'RecordSourceReleased', attempt: 1 },
    );
    expect(h.map((e) => e.type)).toEqual([
      'MigrationRequested',
      'DestinationChosen',
      'DestinationClaimed',
      'MigrationCopyStarted',
      'MigrationProgressed',
      'SwitchedOver',
      'SourceReleased',
      'MigrationCompleted',
    ]);
    const m = foldMigration(h);
    expect(m).toMatchObject({ status: 'completed', hostId: 'h2', attempts: [{ attempt: 1, hostId: 'h2', outcome: 'completed' }] });
    // What the executor acts on carries everything it needs.
    expect(h[2]).toEqual({
      type: 'DestinationClaimed',
      data: {
        attempt: 1,
        vmId: 'vm1',
        hostId: 'h2',
        hypervisorUri: 'sim://h2',
        generation: 8,
        sourceHostId: 'h1',
        sourceHypervisorUri: 'sim://h1',
        memoryBytes: 2 * GiB,
        policy,
        // The destination's claim: the executor builds the domain there from it, never from the source's.
        claim: destinationClaim('h2'),
      },
    });
  });

  it('DestinationClaimed states until when the executor may start the attempt, when the runner says so', () => {
    const startBy = '2026-12-05T23:00:04.000Z';
    const h = run(requested(), chosen(1, 'h2'), {
      ...(claimed(1, 'h2') as Extract<MigrationCommand, { type: 'RecordDestinationClaimed' }>),
      startBy,
    });
    expect(h[2]).toMatchObject({ type: 'DestinationClaimed', data: { attempt: 1, hostId: 'h2', startBy } });
    // Without it (a runner given no window) the field is absent: the executor's own window alone.
    expect(run(requested(), chosen(1, 'h2'), claimed(1, 'h2'))[2]!.data).not.toHaveProperty('startBy');
  });

  it('a repeated request, or a report of another attempt, changes nothing', () => {
    const h = run(requested(), chosen(1, 'h2'), claimed(1, 'h2'));
    expect(given(...h).when(requested()).events).toEqual([]);
    expect(given(...h).when({ type: 'RecordSwitchedOver', attempt: 2, hostId: 'h3' }).events).toEqual([]);
    expect(given(...h).when(claimed(1, 'h2')).events).toEqual([]);
  });

  it('a failed copy releases the destination claim, then retries elsewhere with backoff and the failed host excluded', () => {
    const h = run(requested(), chosen(1, 'h2'), claimed(1, 'h2'), { type: 'RecordCopyFailed', attempt: 1, reason: 'define failed on h2' });
    const m = foldMigration(h);
    expect(m).toMatchObject({ status: 'releasing-destination', then: 'retry', destination: { hostId: 'h2' } });
    const r = given(...h).when(released(1));
    expect(r.types).toEqual(['DestinationReleased', 'RetryScheduled']);
    expect(r.after).toMatchObject({ status: 'retry-waiting', attempt: 2, notBefore: new Date(Date.parse(NOW) + 1000).toISOString() });
    if (r.after.status === 'absent') throw new Error('absent');
    expect(excludedHosts(r.after)).toEqual(['h1', 'h2']);
    // Not before the backoff ran out.
    expect(given(...h, ...r.events).when({ ...chosen(2, 'h3'), now: NOW } as MigrationCommand).events).toEqual([]);
    expect(given(...h, ...r.events).when({ ...chosen(2, 'h3'), now: '2026-12-05T23:00:05.000Z' } as MigrationCommand).types).toEqual([
      'DestinationChosen',
    ]);
  });

  it("fails with every attempt's reason after the last attempt", () => {
    const later = (c: MigrationCommand): MigrationCommand => ('now' in c ? { ...c, now: '2026-12-06T00:00:00.000Z' } : c);
    const h = run(
      requested(),
      chosen(1, 'h2'),
      claimed(1, 'h2'),
      { type: 'RecordCopyFailed', attempt: 1, reason: 'boom 1' },
      released(1),
      later(chosen(2, 'h3')),
      claimed(2, 'h3'),
      { type: 'RecordCopyFailed', attempt: 2, reason: 'boom 2' },
      released(2),
      later(chosen(3, 'h4')),
      { type: 'RecordClaimRefused', attempt: 3, reason: 'no longer fits' },
      released(3),
    );
    expect(h.at(-1)).toEqual({
      type: 'MigrationFailed',
      data: {
        reason: '3 attempt(s) failed: #1 h2: boom 1; #2 h3: boom 2; #3 h4: no longer fits',
        attempts: [
          { attempt: 1, hostId: 'h2', reason: 'boom 1' },
          { attempt: 2, hostId: 'h3', reason: 'boom 2' },
          { attempt: 3, hostId: 'h4', reason: 'no longer fits' },
        ],
      },
    });
    expect(foldMigration(h).status).toBe('failed');
  });

  it("no destination at all fails at once with the scheduler's reason", () => {
    const r = given(...run(requested())).when({
      type: 'RecordNoDestination',
      attempt: 1,
      reason: '0/3 hosts can take web-1: 2 lack memory, 1 is the source',
    });
    expect(r.types).toEqual(['AttemptFailed', 'MigrationFailed']);
    // No destination was chosen: the event names none (no '' sentinel).
    expect(r.events[0]?.data).toEqual({ attempt: 1, stage: 'choose', reason: '0/3 hosts can take web-1: 2 lack memory, 1 is the source' });
    expect(r.after).toMatchObject({
      status: 'failed',
      reason: '1 attempt(s) failed: #1 (no host): 0/3 hosts can take web-1: 2 lack memory, 1 is the source',
    });
  });

  it('cancel before a destination is chosen aborts at once; while copying it asks the executor, then releases the claim', () => {
    expect(given(...run(requested())).when({ type: 'Cancel', reason: 'op' }).types).toEqual(['CancelRequested', 'MigrationAborted']);
    const h = run(
      requested(),
      chosen(1, 'h2'),
      claimed(1, 'h2'),
      { type: 'RecordCopyStarted', attempt: 1 },
      { type: 'Cancel', reason: 'op' },
    );
    expect(foldMigration(h)).toMatchObject({ status: 'aborting', reason: 'op' });
    const failed = run(
      ...[
        requested(),
        chosen(1, 'h2'),
        claimed(1, 'h2'),
        { type: 'RecordCopyStarted', attempt: 1 } as MigrationCommand,
        { type: 'Cancel', reason: 'op' } as MigrationCommand,
        { type: 'RecordCopyFailed', attempt: 1, reason: 'aborted by request' } as MigrationCommand,
        released(1),
      ],
    );
    expect(failed.slice(-2).map((e) => e.type)).toEqual(['DestinationReleased', 'MigrationAborted']);
    expect(foldMigration(failed)).toMatchObject({ status: 'aborted', reason: 'op' });
  });

  it('a switch-over the hypervisor confirms stands even after a cancel', () => {
    const h = run(
      requested(),
      chosen(1, 'h2'),
      claimed(1, 'h2'),
      { type: 'RecordCopyStarted', attempt: 1 },
      { type: 'Cancel', reason: 'op' },
    );
    expect(given(...h).when({ type: 'RecordSwitchedOver', attempt: 1, hostId: 'h2' }).after.status).toBe('switched-over');
  });

  it('cannot cancel after the switch-over, nor a paused post-copy (only resume recovers it)', () => {
    const switched = run(requested(), chosen(1, 'h2'), claimed(1, 'h2'), { type: 'RecordSwitchedOver', attempt: 1, hostId: 'h2' });
    expect(() => given(...switched).when({ type: 'Cancel', reason: 'x' })).toThrow(IllegalStateError);
    const paused = run(
      requested(),
      chosen(1, 'h2'),
      claimed(1, 'h2'),
      { type: 'RecordCopyStarted', attempt: 1 },
      { type: 'RecordPostCopyPaused', attempt: 1, detail: 'connection lost' },
    );
    expect(foldMigration(paused)).toMatchObject({ status: 'postcopy-paused', detail: 'connection lost' });
    expect(() => given(...paused).when({ type: 'Cancel', reason: 'x' })).toThrow(/cannot be moved back; resume it/);
    const resumed = given(...paused).when({ type: 'Resume' });
    expect(resumed.types).toEqual(['ResumeRequested']);
    expect(resumed.after.status).toBe('migrating');
    expect(() => given(...run(requested())).when({ type: 'Resume' })).toThrow(IllegalStateError);
  });

  it('a cancel while a retry is pending ends it aborted instead of retrying', () => {
    const h = run(requested(), chosen(1, 'h2'), claimed(1, 'h2'), { type: 'RecordCopyFailed', attempt: 1, reason: 'x' }, released(1));
    expect(given(...h).when({ type: 'Cancel', reason: 'op' }).after).toMatchObject({ status: 'aborted' });
  });

  describe('waiting for a concurrency slot (MigrationQueued)', () => {
    const fleetFull: MigrationCommand = { type: 'RecordQueued', attempt: 1, cap: 'fleet', reason: 'fleet cap 5 reached' };
    const outboundFull: MigrationCommand = {
      type: 'RecordQueued',
      attempt: 1,
      cap: 'outbound',
      reason: 'host h1 has 2 outbound migrations (cap 2)',
    };

    it('given a request, when no slot is free, then it is queued with the reason', () => {
      const r = given(...run(requested())).when(fleetFull);
      expect(r.events).toEqual([{ type: 'MigrationQueued', data: { attempt: 1, cap: 'fleet', reason: 'fleet cap 5 reached' } }]);
      expect(r.after).toMatchObject({ status: 'queued', attempt: 1, cap: 'fleet', reason: 'fleet cap 5 reached' });
    });

    it('given it is queued, when asked again for the same reason, then nothing is recorded (the log does not grow per poll)', () => {
      const h = run(requested(), fleetFull);
      expect(given(...h).when(fleetFull).events).toEqual([]);
      expect(run(requested(), fleetFull, fleetFull, fleetFull).map((e) => e.type)).toEqual(['MigrationRequested', 'MigrationQueued']);
    });

    it('given it is queued, when the reason changes, then it is recorded again (and again only on the next change)', () => {
      const h = run(requested(), fleetFull, outboundFull, outboundFull, fleetFull);
      expect(h.map((e) => (e.type === 'MigrationQueued' ? e.data.cap : e.type))).toEqual([
        'MigrationRequested',
        'fleet',
        'outbound',
        'fleet',
      ]);
      expect(foldMigration(h)).toMatchObject({ status: 'queued', cap: 'fleet' });
    });

    it('given it is queued, when a slot is free, then its destination is chosen and the migration goes on to completion', () => {
      const h = run(
        requested(),
        fleetFull,
        chosen(1, 'h2'),
        claimed(1, 'h2'),
        { type: 'RecordSwitchedOver', attempt: 1, hostId: 'h2' },
        {
          type: 'RecordSourceReleased',
          attempt: 1,
        },
      );
      expect(h.map((e) => e.type)).toEqual([
        'MigrationRequested',
        'MigrationQueued',
        'DestinationChosen',
        'DestinationClaimed',
        'SwitchedOver',
        'SourceReleased',
        'MigrationCompleted',
      ]);
      expect(foldMigration(h)).toMatchObject({ status: 'completed', hostId: 'h2' });
      // Once it left the queue, a late "no slot" changes nothing.
      expect(given(...h.slice(0, 3)).when(fleetFull).events).toEqual([]);
    });

    it('given it is queued, when cancelled, then it is aborted at once; when no host fits, then it fails', () => {
      const h = run(requested(), fleetFull);
      expect(given(...h).when({ type: 'Cancel', reason: 'op' }).types).toEqual(['CancelRequested', 'MigrationAborted']);
      expect(given(...h).when({ type: 'RecordNoDestination', attempt: 1, reason: 'no host' }).types).toEqual([
        'AttemptFailed',
        'MigrationFailed',
      ]);
    });

    it('given a retry waiting for its backoff, when no slot is free, then the next attempt is queued; another attempt number changes nothing', () => {
      const h = run(requested(), chosen(1, 'h2'), claimed(1, 'h2'), { type: 'RecordCopyFailed', attempt: 1, reason: 'x' }, released(1));
      expect(given(...h).when({ ...fleetFull, attempt: 2 }).after).toMatchObject({ status: 'queued', attempt: 2 });
      expect(given(...h).when(fleetFull).events).toEqual([]);
    });
  });

  it('backoff doubles per attempt', () => {
    expect([2, 3, 4].map((n) => retryDelayMillis(n, 5000))).toEqual([5000, 10000, 20000]);
  });

  it('the initial state is absent and a report about an unknown migration is refused', () => {
    expect(initialMigration().status).toBe('absent');
    expect(() => decideMigration({ type: 'Cancel', reason: 'x' }, initialMigration())).toThrow(/not found/);
  });
});
