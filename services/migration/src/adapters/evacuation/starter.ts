/** Evacuation moves through the migration aggregate's application API (MigrationCommands). */
import type { MigrationStarter, MoveRequest, StartedMove } from '../../application/evacuation-ports.ts';
import type { AdmissionGate } from '../../application/admission.ts';
import type { EvacuationRunner } from '../../application/evacuations.ts';
import type { MigrationCommands } from '../../application/migrations.ts';

export class CommandsMigrationStarter implements MigrationStarter {
  constructor(private readonly migrations: MigrationCommands) {}

  async start(r: MoveRequest): Promise<StartedMove> {
    // Live or cold is decided by MigrateVm from the VM's state now (it may have changed since the plan).
    const evacuationId = r.commandId.split(':')[0] ?? '';
    const m = await this.migrations.migrate({
      commandId: r.commandId,
      vmId: r.vmId,
      destination: r.destinationHostId,
      policy: {},
      trigger: 'evacuation',
      reason: r.reason,
      evacuationId,
    });
    const ended = m.status === 'completed' || m.status === 'failed' || m.status === 'aborted';
    return {
      migrationId: m.core.migrationId,
      ...(ended && { ended: { outcome: m.status, reason: m.status === 'completed' ? `now on ${m.hostId}` : m.reason } }),
    };
  }

  async abort(migrationId: string, reason: string): Promise<void> {
    await this.migrations.cancel({ migrationId, reason });
  }
}

/**
 * Called after each change of a migration: when it ended, gives its slot back; a drain's move is
 * reported to the drain (which frees the slot itself and moves on).
 */
export async function reportMigrationEnd(
  migrations: MigrationCommands,
  gate: AdmissionGate,
  evacuations: EvacuationRunner | undefined,
  migrationId: string,
): Promise<void> {
  const m = await migrations.load(migrationId);
  if (m.status !== 'completed' && m.status !== 'failed' && m.status !== 'aborted') return;
  if (!m.core.evacuationId || !evacuations) {
    gate.release(m.core.vmId);
    return;
  }
  const reason = m.status === 'completed' ? `now on ${m.hostId}` : m.reason;
  await evacuations.migrationEnded(m.core.vmId, migrationId, m.status, reason);
}
