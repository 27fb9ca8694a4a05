/**
 * The executor's intake of DestinationClaimed: the start deadline it records with StartMigration is the
 * earlier of its own window (EXECUTOR_MIGRATION_START_WINDOW after the event) and the one the migration
 * service stated (`startBy`, half its executor silence), so a claim held up by the network past the
 * watchdog's verdict is refused whatever the two processes' settings (issue 16).
 */
import { describe, expect, it } from 'vitest';
import type { EventEnvelope } from '@berth/contracts';
import { createMigrationIntake } from './migration-intake.ts';
import type { Migrator } from './migrator.ts';
import type { Vms } from './vms.ts';

const OCCURRED = '2026-12-06T20:00:00.000Z';
const envelope = (startBy?: string): EventEnvelope =>
  ({
    id: 'e1',
    type: 'DestinationClaimed',
    streamId: 'migration-m1',
    occurredAt: OCCURRED,
    data: {
      attempt: 1,
      vmId: 'vm1',
      hostId: 'h2',
      hypervisorUri: 'sim://h2',
      generation: 3,
      sourceHostId: 'h1',
      sourceHypervisorUri: 'sim://h1',
      memoryBytes: 1024 ** 3,
      policy: {
        maxDowntimeMillis: 0,
        bandwidthMiBps: 0,
        autoConverge: false,
        postCopy: false,
        completionBudgetSecondsPerGiB: 150,
        noProgressTimeoutSeconds: 150,
        maxAttempts: 3,
      },
      ...(startBy !== undefined && { startBy }),
    },
  }) as unknown as EventEnvelope;

/** The StartMigration command the intake hands the VM's log. */
async function startByOf(startBy: string | undefined, windowMillis: number): Promise<string | undefined> {
  let seen: string | undefined;
  const vms = {
    execute: (_vmId: string, command: { startBy?: string }) => {
      seen = command.startBy;
      return Promise.resolve({ state: {}, appended: [] });
    },
  } as unknown as Vms;
  const intake = createMigrationIntake({ vms, migrator: {} as Migrator, startWindowMillis: windowMillis, now: () => Date.parse(OCCURRED) });
  expect(await intake(envelope(startBy))).toMatchObject({ kind: 'ack' });
  return seen;
}

describe('migration intake: the start deadline', () => {
  it("is the migration service's when it is earlier than the executor's own window", async () => {
    expect(await startByOf('2026-12-06T20:00:04.000Z', 30_000)).toBe('2026-12-06T20:00:04.000Z');
  });
  it("is the executor's own window when that is earlier, or when the event states none (written before startBy)", async () => {
    expect(await startByOf('2026-12-06T20:00:40.000Z', 30_000)).toBe('2026-12-06T20:00:30.000Z');
    expect(await startByOf(undefined, 30_000)).toBe('2026-12-06T20:00:30.000Z');
  });
});
