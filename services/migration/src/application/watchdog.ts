import type { Logger } from '@berth/observability';
import type { MigrationCommands } from './migrations.ts';
import type { Clock, ExecutorPort } from './ports.ts';

export interface WatchdogDeps {
  readonly migrations: MigrationCommands;
  readonly executor: ExecutorPort;
  readonly clock: Clock;
  readonly logger: Logger;
  /** MIGRATION_EXECUTOR_SILENCE: how long the executor may say nothing of an attempt it carries out. */
  readonly silenceMillis: number;
}

/** The states in which the migration waits for the executor's word. */
const WAITING = new Set(['destination-claimed', 'migrating', 'aborting']);

/**
 * The executor-silence watchdog: a migration that waits for the executor (claimed, migrating,
 * aborting) and whose log has had nothing for MIGRATION_EXECUTOR_SILENCE (no report, no progress, no
 * earlier probe) is probed: the executor is asked what its log has of the VM and the answer is
 * recorded (ExecutorProbed, with when and after how long a silence); the decider turns a lost
 * switch-over report into SwitchedOver and an attempt the executor does not carry out into
 * AttemptFailed (its destination claim is released, the next attempt follows). An unreachable
 * executor is recorded and asked again one silence later: never a guess.
 */
export class ExecutorWatchdog {
  private readonly probing = new Set<string>();

  constructor(private readonly d: WatchdogDeps) {}

  /** Probes the migration if its executor has been silent too long (one probe per migration at a time). */
  async check(migrationId: string): Promise<void> {
    if (this.probing.has(migrationId)) return;
    this.probing.add(migrationId);
    try {
      const { migration: m, updatedAt } = await this.d.migrations.get(migrationId);
      if (!WAITING.has(m.status) || !('destination' in m)) return;
      if (m.status === 'aborting' && m.destination.hypervisorUri === undefined) return; // the runner's step, not the executor's
      const now = this.d.clock.now();
      const silentMillis = now.getTime() - Date.parse(updatedAt);
      if (silentMillis < this.d.silenceMillis) return;
      const answer = await this.d.executor.runtime(m.core.vmId);
      const r = await this.d.migrations.execute(migrationId, {
        type: 'RecordExecutorProbe',
        attempt: m.attempt,
        at: now.toISOString(),
        silentMillis,
        answer,
      });
      const probed = r.events.find((e) => e.type === 'ExecutorProbed');
      if (probed) this.d.logger.warn({ migrationId, vmId: m.core.vmId, silentMillis, answer }, 'executor silent: probed');
    } finally {
      this.probing.delete(migrationId);
    }
  }
}
