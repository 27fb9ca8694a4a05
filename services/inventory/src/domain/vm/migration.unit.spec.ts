import { IllegalStateError } from '@berth/errors';
import { describe, expect, it } from 'vitest';
import type { VmCommand, VmSpecInput } from './commands.ts';
import { claimOn, vmSpecInput } from '../../testing/host-specs.ts';
import { decideVm } from './decide.ts';
import type { VmEvent } from './events.ts';
import { foldVm, migrationOf, placementOf } from './state.ts';

const spec = vmSpecInput;

function run(...commands: VmCommand[]): VmEvent[] {
  let history: VmEvent[] = [];
  for (const c of commands) history = [...history, ...decideVm(c, foldVm(history))];
  return history;
}
const running = (over: Partial<VmSpecInput> = {}): VmCommand[] => [
  {
    type: 'ComposeVm',
    vmId: 'vm1',
    project: 'default',
    spec: spec(over),
    knownPools: new Set(),
    waitForCapacityMillis: 0,
    now: '2026-12-06T00:00:00.000Z',
  },
  {
    type: 'PlaceVm',
    placement: { hostId: 'h1', hypervisorUri: 'sim://h1', claim: claimOn('h1'), generation: 2, explanation: {}, alternates: [] },
  },
  { type: 'RecordStarted', hostId: 'h1' },
];
const begin = (migrationId = 'm1', automatic = false): VmCommand => ({
  type: 'BeginMigration',
  migrationId,
  automatic,
  destination: { hostId: 'h2', hypervisorUri: 'sim://h2', claim: claimOn('h2'), generation: 5 },
});

describe('VM during a live migration (inventory)', () => {
  it('records the destination while the source placement stays; completing moves the VM there', () => {
    const started = run(...running(), begin());
    const vm = foldVm(started);
    expect(started.at(-1)).toEqual({
      type: 'VmMigrationStarted',
      data: { migrationId: 'm1', sourceHostId: 'h1', hostId: 'h2', hypervisorUri: 'sim://h2', claim: claimOn('h2'), generation: 5 },
    });
    expect(placementOf(vm)?.hostId).toBe('h1');
    expect(migrationOf(vm)?.destination.hostId).toBe('h2');
    // the same migration again changes nothing; another one is refused
    expect(decideVm(begin(), vm)).toEqual([]);
    expect(() => decideVm(begin('m2'), vm)).toThrow(/already moving to h2/);
    const done = run(...running(), begin(), { type: 'CompleteMigration', migrationId: 'm1' });
    expect(done.at(-1)).toMatchObject({ type: 'VmMigrated', data: { fromHostId: 'h1', hostId: 'h2' } });
    const after = foldVm(done);
    expect(after.status).toBe('running');
    expect(placementOf(after)?.hostId).toBe('h2');
    expect(migrationOf(after)).toBeUndefined();
    expect(decideVm({ type: 'CompleteMigration', migrationId: 'm1' }, after)).toEqual([]);
  });

  it('abort clears the migration and leaves the VM on the source; stop, reboot and delete wait for the migration', () => {
    const vm = foldVm(run(...running(), begin()));
    for (const c of [{ type: 'StopVm', force: false }, { type: 'RebootVm' }, { type: 'DeleteVm' }] as VmCommand[]) {
      expect(() => decideVm(c, vm)).toThrow(/cancel the migration first/);
    }
    const aborted = run(...running(), begin(), { type: 'AbortMigration', migrationId: 'm1', reason: 'budget' });
    expect(aborted.at(-1)).toEqual({ type: 'VmMigrationAborted', data: { migrationId: 'm1', hostId: 'h2', reason: 'budget' } });
    expect(placementOf(foldVm(aborted))?.hostId).toBe('h1');
    expect(migrationOf(foldVm(aborted))).toBeUndefined();
    expect(decideVm({ type: 'AbortMigration', migrationId: 'm1', reason: 'again' }, foldVm(aborted))).toEqual([]);
  });

  it('modes: none never moves live; manual moves only when an operator asks (not automatic)', () => {
    expect(() => run(...running({ migrationMode: 'none' }), begin())).toThrow(/migration mode none/);
    expect(() => run(...running({ migrationMode: 'manual' }), begin('m1', true))).toThrow(IllegalStateError);
    expect(run(...running({ migrationMode: 'manual' }), begin('m1', false)).at(-1)?.type).toBe('VmMigrationStarted');
    expect(run(...running({ migrationMode: 'manual-and-automatic' }), begin('m1', true)).at(-1)?.type).toBe('VmMigrationStarted');
  });

  it('a stopped VM moves cold whatever its mode, stays stopped on the destination, and cannot be started meanwhile', () => {
    const stop: VmCommand[] = [
      { type: 'StopVm', force: false },
      { type: 'RecordStopped', hostId: 'h1' },
    ];
    for (const migrationMode of ['none', 'manual'] as const) {
      const started = run(...running({ migrationMode }), ...stop, begin('m1', true));
      expect(started.at(-1)?.type).toBe('VmMigrationStarted');
      expect(() => decideVm({ type: 'StartVm' }, foldVm(started))).toThrow(/cancel the migration first/);
      const after = foldVm(
        run(...running({ migrationMode }), ...stop, begin('m1', true), { type: 'CompleteMigration', migrationId: 'm1' }),
      );
      expect(after.status).toBe('stopped');
      expect(placementOf(after)?.hostId).toBe('h2');
    }
    // Neither running nor stopped: refused.
    const deleting = [...running(), ...stop, { type: 'DeleteVm' } as VmCommand];
    expect(() => run(...deleting, begin())).toThrow(/cannot migrate VM vm1/);
  });
});
