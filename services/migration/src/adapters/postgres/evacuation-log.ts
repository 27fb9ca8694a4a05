/** The evacuation aggregate in the service's log: stream `evacuation-<hostId>`, one command path (handleCommand). */
import { evolveStored, handleCommand, type AnyKysely, type PostgresEventStore } from '@berth/event-store';
import { sql } from 'kysely';
import type { EvacuationLog } from '../../application/evacuation-ports.ts';
import { decideEvacuation, type EvacuationCommand } from '../../domain/evacuation/decide.ts';
import type { EvacuationEvent } from '../../domain/evacuation/events.ts';
import { evolveEvacuation, initialEvacuation, isActive, type Evacuation } from '../../domain/evacuation/state.ts';

const PREFIX = 'evacuation-';

/** Stored events folded as the evacuation stream's own events (checked by type; see `evolveStored`). */
const evolveEvacuationStored = evolveStored<Evacuation, EvacuationEvent>(
  {
    EvacuationStarted: true,
    EvacuationMoveStarted: true,
    EvacuationMoveEnded: true,
    EvacuationWaiting: true,
    EvacuationCancelRequested: true,
    EvacuationCompleted: true,
    EvacuationCancelled: true,
  },
  evolveEvacuation,
);

export class PostgresEvacuationLog implements EvacuationLog {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly db: AnyKysely,
  ) {}

  async read(hostId: string): Promise<Evacuation> {
    const { events } = await this.store.readStream(PREFIX + hostId);
    return events.reduce(evolveEvacuationStored, initialEvacuation());
  }

  async execute(hostId: string, commandId: string, command: EvacuationCommand, known?: Evacuation): Promise<Evacuation> {
    const r = await handleCommand<Evacuation, EvacuationCommand, EvacuationEvent>({
      store: this.store,
      streamId: PREFIX + hostId,
      commandId,
      command,
      decide: decideEvacuation,
      evolve: evolveEvacuationStored,
      initialState: initialEvacuation,
      maxRetries: 5,
      // Its version counts the events folded into it: the stream's version when it was folded.
      ...(known && { known: { state: known, version: known.version } }),
    });
    return r.state;
  }

  async active(): Promise<string[]> {
    const rows = await sql<{ stream_id: string }>`SELECT stream_id FROM streams WHERE stream_id LIKE ${PREFIX + '%'}`.execute(this.db);
    const out: string[] = [];
    for (const { stream_id } of rows.rows) {
      const hostId = stream_id.slice(PREFIX.length);
      if (isActive(await this.read(hostId))) out.push(hostId);
    }
    return out;
  }
}
