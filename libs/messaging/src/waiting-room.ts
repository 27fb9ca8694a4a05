import type { JsMsg } from '@nats-io/jetstream';

/**
 * Messages pulled but not yet handled. Handling is one at a time, so a message may wait here while
 * slower ones ahead of it run; its ack wait keeps running on the server meanwhile. A timer reports
 * progress (`working()`) for every waiting message so none is redelivered, and eventually
 * dead-lettered, only for having queued. On close, what still waits is nak'd for prompt redelivery.
 */
export class WaitingRoom {
  private readonly items: JsMsg[] = [];
  private wake: (() => void) | undefined;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  constructor(keepAliveMillis: number) {
    this.timer = setInterval(() => {
      for (const m of this.items) m.working();
    }, keepAliveMillis).unref();
  }

  get size(): number {
    return this.items.length;
  }

  push(m: JsMsg): void {
    if (this.closed) {
      m.nak();
      return;
    }
    this.items.push(m);
    this.wakeUp();
  }

  /** The next message, waiting for one; undefined once closed. */
  async next(): Promise<JsMsg | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const m = this.items.shift();
      if (m !== undefined) return m;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const m of this.items.splice(0)) m.nak();
    this.wakeUp();
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
