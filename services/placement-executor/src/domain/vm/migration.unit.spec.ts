import { describe, expect, it } from 'vitest';
import type { Claim } from '@berth/fit';
import type { VmCommand } from './commands.ts';
import { decide } from './decide.ts';
import type { Location, MigrationPlan, ProvisionRequest, VmEvent } from './events.ts';
import { evolve, initialState, type VmState } from './state.ts';

const loc: Location = { vmId: 'vm1', hostId: 'h1', hypervisorUri: 'sim://h1', attempt: 1 };
const request = { name: 'web', passthroughCpu: false, networks: [], claim: { vmId: 'vm1', hostId: 'h1' } } as unknown as ProvisionRequest;
const plan: MigrationPlan = {
  memoryBytes: 1024,
  bandwidthMiBps: 0,
  maxDowntimeMillis: 0,
  autoConverge: false,
  postCopy: false,
  completionBudgetSecondsPerGiB: 150,
  noProgressTimeoutSeconds: 150,
};
const RUNNING: VmCommand[] = [
  { type: 'Provision', location: loc, request, domainName: 'berth-vm1', domainUuid: 'u', registrationDeadline: '2030-01-01T00:00:00Z' },
  { type: 'Advance', to: 'running', volumes: [] },
];
const STOPPED: VmCommand[] = [
  ...RUNNING,
  { type: 'RequestOperation', location: loc, operation: 'stop', force: false, requestId: 'r1' },
  { type: 'MarkStopped', how: 'graceful' },
];
const start = (cold?: boolean, destinationClaim?: Claim): VmCommand => ({
  type: 'StartMigration',
  migrationId: 'm1',
  attempt: 1,
  sourceHostId: 'h1',
  destination: { hostId: 'h2', uri: 'sim://h2' },
  plan,
  ...(cold !== undefined && { cold }),
  ...(destinationClaim !== undefined && { destinationClaim }),
});

function run(...commands: VmCommand[]): { events: VmEvent[]; state: VmState } {
  let state = initialState();
  const events: VmEvent[] = [];
  for (const c of commands) {
    for (const e of decide(c, state)) {
      events.push(e);
      state = evolve(state, e);
    }
  }
  return { events, state };
}

describe('executor VM during a migration', () => {
  it('a guest that shuts down mid-migration keeps the migration recorded until its end is recorded (then stopped, where it was)', () => {
    const { state } = run(...RUNNING, start(), { type: 'MarkStopped', how: 'already-stopped' });
    expect(state.status).toBe('stopped');
    expect(state.status === 'stopped' && state.migration?.migrationId).toBe('m1');
    // The end of the migration is still recorded (the migration service hears of it) and ends the work.
    const ended = run(
      ...RUNNING,
      start(),
      { type: 'MarkStopped', how: 'already-stopped' },
      {
        type: 'FailMigration',
        migrationId: 'm1',
        reason: 'guest shut down',
        cause: 'error',
      },
    );
    expect(ended.events.at(-1)).toMatchObject({ type: 'VmMigrationFailed', data: { migrationId: 'm1', hostId: 'h1' } });
    expect(ended.state).toMatchObject({ status: 'stopped', location: { hostId: 'h1' } });
    expect(ended.state.status === 'stopped' && ended.state.migration).toBeUndefined();
  });

  it('a restart of the guest by reconciliation keeps the migration recorded too', () => {
    const { state } = run(...RUNNING, start(), { type: 'MarkStarted', cause: 'restarted-by-reconciliation' });
    expect(state.status === 'running' && state.migration?.migrationId).toBe('m1');
  });

  it('a stopped VM moves cold: recorded as cold, completes onto the destination and stays stopped', () => {
    const started = run(...STOPPED, start(true));
    expect(started.events.at(-1)).toMatchObject({ type: 'VmMigrationStarted', data: { cold: true, destinationHostId: 'h2' } });
    const done = run(...STOPPED, start(true), { type: 'CompleteMigration', migrationId: 'm1', confirmedBy: 'migrate-call' });
    expect(done.events.at(-1)).toMatchObject({ type: 'VmMigrated', data: { cold: true, hostId: 'h2', fromHostId: 'h1' } });
    expect(done.state).toMatchObject({ status: 'stopped', location: { hostId: 'h2', hypervisorUri: 'sim://h2' } });
    // the same start again records nothing
    expect(decide(start(true), run(...STOPPED, start(true)).state)).toEqual([]);
  });

  it('refuses (as a failed attempt) a cold move of a running VM and a live migration of a stopped one', () => {
    expect(run(...RUNNING, start(true)).events.at(-1)).toMatchObject({ type: 'VmMigrationFailed', data: { reason: /cold move/ } });
    expect(run(...STOPPED, start(false)).events.at(-1)).toMatchObject({
      type: 'VmMigrationFailed',
      data: { cold: true, reason: /live migration/ },
    });
  });

  it('refuses a start asked for longer ago than its window (the watchdog may have given the attempt up), and starts one within it', () => {
    const late = run(...RUNNING, { ...start(), startBy: '2026-12-06T05:00:30.000Z', now: '2026-12-06T05:00:31.000Z' } as VmCommand);
    expect(late.events.at(-1)).toMatchObject({ type: 'VmMigrationFailed', data: { migrationId: 'm1', reason: /too late, not started/ } });
    expect(late.state.status === 'running' && late.state.migration).toBeUndefined();
    const inTime = run(...RUNNING, { ...start(), startBy: '2026-12-06T05:00:30.000Z', now: '2026-12-06T05:00:29.000Z' } as VmCommand);
    expect(inTime.events.at(-1)?.type).toBe('VmMigrationStarted');
  });

  it("records the destination's claim with the migration, and once moved the VM is rebuilt from it (not from the source's)", () => {
    const destinationClaim = { ...request.claim, hostId: 'h2', pinnedCpus: [6, 7] };
    const started = run(...STOPPED, start(true, destinationClaim));
    expect(started.events.at(-1)).toMatchObject({ type: 'VmMigrationStarted', data: { destinationClaim } });
    expect(started.state.status === 'stopped' && started.state.migration?.destinationClaim).toEqual(destinationClaim);
    const moved = run(...STOPPED, start(true, destinationClaim), {
      type: 'CompleteMigration',
      migrationId: 'm1',
      confirmedBy: 'migrate-call',
    });
    expect(moved.state).toMatchObject({ status: 'stopped', location: { hostId: 'h2' }, request: { name: 'web', claim: destinationClaim } });
    // A migration recorded without it (written before it was carried) leaves the request as it was.
    const old = run(...STOPPED, start(true), { type: 'CompleteMigration', migrationId: 'm1', confirmedBy: 'migrate-call' });
    expect(old.state).toMatchObject({ location: { hostId: 'h2' }, request: { claim: request.claim } });
  });
});
