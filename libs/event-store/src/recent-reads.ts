import type { RawStoredEvent } from './global-read.ts';
import type { GlobalPosition } from './types.ts';

/**
 * Events kept at most (whole reads, the oldest dropped first): the projection lingers ~200 ms behind
 * the relay, which reads often and little under load (~1,200 events a second in bench:e2e), and the
 * relay's batch is 1,000 at most.
 */
const MAX_EVENTS = 4000;

interface Run {
  /** Key of the position the read started after ('start' for the log's beginning). */
  readonly after: string;
  readonly events: readonly RawStoredEvent[];
  /** Event key -> its index in `events`. */
  readonly at: ReadonlyMap<string, number>;
}

const keyOf = (p: GlobalPosition | null): string => (p === null ? 'start' : `${p.transactionId}/${p.position}`);
const eventKey = (e: RawStoredEvent): string => `${e.transactionId}/${e.globalPosition}`;

/**
 * The global reads a store's relay made lately, for its read-model projection, which reads the same
 * events a moment later (it lingers between batches): taken from here they cost the projection no
 * query and no row decoding, and Postgres no second scan of the same rows.
 *
 * Sound because a global read returns every event in its range: it reads only below the oldest
 * running transaction, and nothing can commit there afterwards, so the events after a position up to
 * the end of a read that covered it are the log's, whoever asks and whenever. A read is found by the
 * exact position it started after, or by one of its events' positions; anything else (another
 * replica's checkpoint, a read dropped) is read from Postgres as before.
 */
export class RecentReads {
  private runs: Run[] = [];
  private kept = 0;
  /** Set by the first take(): a store without a projection (the telemetry service's) keeps nothing. */
  private wanted = false;

  /** A global read's result: `events` are all the log holds after `after` up to the last of them. */
  remember(after: GlobalPosition | null, events: readonly RawStoredEvent[]): void {
    if (!this.wanted || events.length === 0) return;
    const at = new Map<string, number>();
    events.forEach((e, i) => at.set(eventKey(e), i));
    this.runs.push({ after: keyOf(after), events, at });
    this.kept += events.length;
    while (this.kept > MAX_EVENTS && this.runs.length > 1) this.kept -= this.runs.shift()!.events.length;
  }

  /**
   * Up to `limit` events right after `after`, if a remembered read holds them (undefined otherwise):
   * the next ones in the log, though not necessarily all the log holds by now. Reads before the one
   * taken from are forgotten, since the caller has passed them.
   */
  take(after: GlobalPosition | null, limit: number): readonly RawStoredEvent[] | undefined {
    this.wanted = true;
    const key = keyOf(after);
    for (let r = 0; r < this.runs.length; r++) {
      const run = this.runs[r]!;
      const at = run.after === key ? -1 : run.at.get(key);
      if (at === undefined || at + 1 >= run.events.length) continue;
      const from = at + 1;
      const taken = run.events.slice(from, from + limit);
      for (const passed of this.runs.splice(0, from + taken.length === run.events.length ? r + 1 : r)) this.kept -= passed.events.length;
      return taken;
    }
    return undefined;
  }
}
