/** Evacuation moves through the migration aggregate's application API (MigrationCommands). */
import type { MigrationStarter, MoveRequest, StartedMove } from '../../application/evacuation-ports.ts';
import type { AdmissionGate } from '../../application/admission.ts';
import type { EvacuationRunner } from '../../application/evacuations.ts';
import type { MigrationCommands } from '../../application/migrations.ts';
import type { VmInfo } from '../../application/ports.ts';
import type { Migration } from '../../domain/migration/state.ts';

export class CommandsMigrationStarter implements MigrationStarter {
  /** `known`: the drain's own fresh record of a VM (kept from inventory's events), when it has one. */
  constructor(
    private readonly migrations: MigrationCommands,
    private readonly known: (vmId: string) => VmInfo | undefined = () => undefined,
  ) {}

  async start(r: MoveRequest): Promise<StartedMove> {
    // Live or cold is decided by MigrateVm from the VM's state now (it may have changed since the plan).
    const evacuationId = r.commandId.split(':')[0] ?? '';
    const known = this.known(r.vmId);
    const m = await this.migrations.migrate({
      commandId: r.commandId,
      vmId: r.vmId,
      destination: r.destinationHostId,
      policy: {},
      trigger: 'evacuation',
      reason: r.reason,
      evacuationId,
      ...(known && { known }),
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
 * Called after each change of a migration, with the migration after it: when it ended, gives its
 * slot back; a drain's move is reported to the drain (which frees the slot itself and moves on).
 */
export async function reportMigrationEnd(
  gate: AdmissionGate,
  evacuations: EvacuationRunner | undefined,
  migrationId: string,
  m: Migration,
): Promise<void> {
  if (m.status !== 'completed' && m.status !== 'failed' && m.status !== 'aborted') return;
  if (!m.core.evacuationId || !evacuations) {
    gate.release(m.core.vmId);
    // A drain waiting for a slot gets it now, not at its next timer pass.
    evacuations?.slotFreed();
    return;
  }
  const reason = m.status === 'completed' ? `now on ${m.hostId}` : m.reason;
  await evacuations.migrationEnded(m.core.vmId, migrationId, m.status, reason);
}
