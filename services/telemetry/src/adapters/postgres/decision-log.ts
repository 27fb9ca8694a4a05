import { randomUUID } from 'node:crypto';
import { sql } from 'kysely';
import type { AnyKysely, NewEvent, PostgresEventStore, StoredEvent } from '@berth/event-store';
import type { Logger } from '@berth/observability';

export interface QuietEntry {
  readonly hostId: string;
  readonly at: string;
  /** `scope@version`. */
  readonly policy: string;
  /** Set when the policy failed the interval (no control applied). */
  readonly error?: string;
  /**
   * Set when the interval decided a change but waited behind its host's previous decision and was
   * replaced there by a newer interval: nothing of it was recorded as a decision or sent.
   */
  readonly superseded?: true;
}

interface Pending {
  readonly streamId: string;
  readonly events: readonly NewEvent[];
  readonly resolve: (e: readonly StoredEvent[]) => void;
  readonly reject: (e: unknown) => void;
}

/**
 * The telemetry log's writer: decisions (per host stream `host-<hostId>`) and the compact
 * "nothing changed" records are gathered for `flushMillis` and written in one batched append (one
 * statement), so a fleet of any size costs a few statements a second. Host stream versions are
 * kept in memory (telemetry is their only writer) and read from `streams` for hosts met first.
 */
export class DecisionLog {
  private pending: Pending[] = [];
  private quiet: QuietEntry[] = [];
  private readonly versions = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  statements = 0;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly db: AnyKysely,
    private readonly o: { flushMillis: number; logger: Logger },
  ) {}

  /** Resolves with the stored events once committed. */
  append(streamId: string, events: readonly NewEvent[]): Promise<readonly StoredEvent[]> {
    return new Promise((resolve, reject) => {
      this.pending.push({ streamId, events, resolve, reject });
      this.schedule();
    });
  }

  noteUnchanged(e: QuietEntry): void {
    this.quiet.push(e);
    this.schedule();
  }

  private schedule(): void {
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.flushing = this.flushing
        .then(() => this.flush())
        .catch((e: unknown) => this.o.logger.error({ err: e }, 'decision log flush failed'));
    }, this.o.flushMillis);
  }

  async flush(): Promise<void> {
    const pending = this.pending;
    const quiet = this.quiet;
    this.pending = [];
    this.quiet = [];
    if (pending.length === 0 && quiet.length === 0) return;
    try {
      await this.loadVersions(pending.map((p) => p.streamId));
      // Several appends to one stream in a flush go in order, each expecting the version the last left.
      const expected = new Map<string, number>();
      const items = pending.map((p) => {
        const v = expected.get(p.streamId) ?? this.versions.get(p.streamId) ?? 0;
        expected.set(p.streamId, v + p.events.length);
        return { appends: [{ streamId: p.streamId, expectedVersion: v, events: p.events }] };
      });
      if (quiet.length > 0) {
        items.push({
          appends: [
            {
              streamId: `intervals-${Date.now()}-${randomUUID().slice(0, 8)}`,
              expectedVersion: 0,
              events: [{ type: 'UnchangedIntervalsRecorded', data: { entries: quiet } }],
            },
          ],
        });
      }
      const outcomes = await this.store.appendBatch(items);
      this.statements++;
      pending.forEach((p, i) => {
        const o = outcomes[i];
        if (o?.outcome === 'ok') {
          const a = o.appends[0]!;
          this.versions.set(p.streamId, a.nextExpectedVersion);
          p.resolve(a.events);
        } else {
          // Another writer moved the stream: learn its version and try again next flush.
          this.versions.delete(p.streamId);
          this.pending.push(p);
          this.schedule();
        }
      });
    } catch (e) {
      for (const p of pending) p.reject(e);
      throw e;
    }
  }

  private async loadVersions(streamIds: readonly string[]): Promise<void> {
    const unknown = [...new Set(streamIds.filter((s) => !this.versions.has(s)))];
    if (unknown.length === 0) return;
    const rows = await sql<{
      stream_id: string;
      version: string;
    }>`SELECT stream_id, version FROM streams WHERE stream_id = ANY(${unknown})`.execute(this.db);
    this.statements++;
    for (const s of unknown) this.versions.set(s, 0);
    for (const r of rows.rows) this.versions.set(r.stream_id, Number(r.version));
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.flushing;
    await this.flush();
  }
}
