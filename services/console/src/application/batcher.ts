import type { ConsoleEvent, EventBatch } from '../api.ts';

export interface BatchSink {
  send(batch: EventBatch): void;
}

/**
 * Collects events for every connected browser and hands each one batch per flush interval, so a
 * burst of 500 events per second becomes ten updates per second, not 500 re-renders. A browser that
 * falls more than `maxPending` events behind loses the oldest and is told how many (it refetches).
 */
export class EventBatcher {
  private readonly sinks = new Map<BatchSink, { pending: ConsoleEvent[]; dropped: number }>();
  private timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly flushMillis: number,
    private readonly maxPending = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  subscribe(sink: BatchSink): () => void {
    this.sinks.set(sink, { pending: [], dropped: 0 });
    this.timer ??= setInterval(() => this.flush(), this.flushMillis);
    return () => {
      this.sinks.delete(sink);
      if (this.sinks.size === 0 && this.timer) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  get subscribers(): number {
    return this.sinks.size;
  }

  push(event: ConsoleEvent): void {
    for (const queue of this.sinks.values()) {
      queue.pending.push(event);
      if (queue.pending.length > this.maxPending) {
        queue.pending.shift();
        queue.dropped += 1;
      }
    }
  }

  flush(): void {
    for (const [sink, queue] of this.sinks) {
      if (queue.pending.length === 0 && queue.dropped === 0) continue;
      const batch: EventBatch = { sentAt: this.now(), events: queue.pending, dropped: queue.dropped };
      queue.pending = [];
      queue.dropped = 0;
      sink.send(batch);
    }
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.sinks.clear();
  }
}
