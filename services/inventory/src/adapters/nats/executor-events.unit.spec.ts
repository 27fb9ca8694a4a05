import { describe, expect, it } from 'vitest';
import type { CommandBatcher } from '@berth/event-store';
import type { executorEvents } from '@berth/contracts';
import { VmCommands } from '../../application/vms.ts';
import { FOLDED_EXECUTOR_EVENTS } from './executor-events.ts';

// Every executor event type (the Record makes the compiler list them all).
const ALL: Record<executorEvents.ExecutorEventType, true> = {
  DomainProvisioningStarted: true,
  VolumesCreated: true,
  DomainDefined: true,
  DomainStarted: true,
  VmStarted: true,
  DomainProvisionFailed: true,
  OperationRequested: true,
  DomainStopped: true,
  DomainDeleted: true,
  DomainOperationFailed: true,
  DomainDriftDetected: true,
  UnknownDomainFound: true,
  // Migration reports: the migration service folds them and tells inventory (Begin/Complete/AbortVmMigration).
  VmMigrationStarted: true,
  VmMigrationProgressed: true,
  VmMigrationCancelRequested: true,
  VmMigrated: true,
  VmMigrationFailed: true,
  VmMigrationPostCopyPaused: true,
};

/** A batcher that records that it was used and fails the command, so nothing else is needed. */
function touchedBatcher(): { batcher: CommandBatcher; touched: () => boolean } {
  let touched = false;
  const use = (): Promise<never> => {
    touched = true;
    return Promise.reject(new Error('batcher reached'));
  };
  const batcher = { read: use, execute: use } as unknown as CommandBatcher;
  return { batcher, touched: () => touched };
}

describe('executor events inventory consumes', () => {
  const report = { vmId: 'vm-1', hostId: 'host-1', reason: 'x', operation: 'start' as const };

  it.each(Object.keys(ALL).filter((t) => !(FOLDED_EXECUTOR_EVENTS as readonly string[]).includes(t)))(
    'acks %s unread because VmCommands has nothing to fold for it',
    async (type) => {
      const { batcher, touched } = touchedBatcher();
      await expect(
        new VmCommands(batcher, async () => new Set()).recordExecutorEvent(type, report, 'executor:e-1'),
      ).resolves.toBeUndefined();
      expect(touched()).toBe(false);
    },
  );

  it.each([...FOLDED_EXECUTOR_EVENTS])('handles %s: VmCommands folds it into the VM', async (type) => {
    const { batcher, touched } = touchedBatcher();
    await expect(new VmCommands(batcher, async () => new Set()).recordExecutorEvent(type, report, 'executor:e-1')).rejects.toThrow(
      'batcher reached',
    );
    expect(touched()).toBe(true);
  });
});
