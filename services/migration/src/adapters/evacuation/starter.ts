/** Evacuation moves through the migration aggregate's application API (MigrationCommands). */
import { IllegalStateError } from '@berth/errors';
import type { MigrationStarter, MoveRequest } from '../../application/evacuation-ports.ts';
import type { EvacuationRunner } from '../../application/evacuations.ts';
import type { MigrationCommands } from '../../application/migrations.ts';

export class CommandsMigrationStarter implements MigrationStarter {
  constructor(private readonly migrations: MigrationCommands) {}

  async start(r: MoveRequest): Promise<{ migrationId: string }> {
    if (r.kind === 'cold') {
      throw new IllegalStateError(
        `VM ${r.vmId} is stopped: the migration service moves running VMs only (a cold move is not built yet); start it or delete it`,
      );
    }
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
    return { migrationId: m.core.migrationId };
  }

  async abort(migrationId: string, reason: string): Promise<void> {
    await this.migrations.cancel({ migrationId, reason });
  }
}

/** Called after each change of a migration: tells the evacuation runner when one of its moves ended. */
export async function reportMigrationEnd(migrations: MigrationCommands, evacuations: EvacuationRunner, migrationId: string): Promise<void> {
  const m = await migrations.load(migrationId);
  if (m.status !== 'completed' && m.status !== 'failed' && m.status !== 'aborted') return;
  if (!m.core.evacuationId) return;
  const reason = m.status === 'completed' ? `now on ${m.hostId}` : m.reason;
  await evacuations.migrationEnded(m.core.vmId, migrationId, m.status, reason);
}
