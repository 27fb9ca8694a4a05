import { evolveStored } from '@berth/event-store';
import type { MigrationEvent } from '../domain/migration/events.ts';
import { evolveMigration, type Migration } from '../domain/migration/state.ts';

/** Stored events folded as the migration stream's own events (checked by type; see `evolveStored`). */
export const evolveMigrationStored = evolveStored<Migration, MigrationEvent>(
  {
    MigrationRequested: true,
    DestinationChosen: true,
    DestinationClaimed: true,
    MigrationCopyStarted: true,
    MigrationProgressed: true,
    SwitchedOver: true,
    SourceReleased: true,
    MigrationCompleted: true,
    AttemptFailed: true,
    DestinationReleased: true,
    RetryScheduled: true,
    MigrationFailed: true,
    CancelRequested: true,
    MigrationAborted: true,
    PostCopyPaused: true,
    ResumeRequested: true,
    ExecutorProbed: true,
    MigrationQueued: true,
  },
  evolveMigration,
);
