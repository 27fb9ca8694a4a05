import type { JsMsg } from '@nats-io/jetstream';

/** A message handed out by `WaitingRoom.next()`; give its key back with `done(key)` when it has ended. */
export interface Turn {
  readonly msg: JsMsg;
  readonly key: string;
}

/**
 * Messages pulled but not yet handled, handed out in delivery order to at most `limit` handlers at
 * once, never two of the same key at the same time: a message whose key is in hand waits (in order)
 * while later messages of other keys go ahead. Its ack wait keeps running on the server meanwhile, so
 * a timer reports progress (`working()`) for every waiting message; none is redelivered, and
 * eventually dead-lettered, only for having queued. On close, what still waits is given to `release`
 * (the consumer's: a nak for prompt redelivery, or a dead letter for a message at the server's last
 * delivery, which a nak would drop); messages in hand are their handlers' to end.
 */
export class WaitingRoom {
  private readonly waiting: Turn[] = [];
  private readonly busy = new Set<string>();
  private wake: (() => void) | undefined;
  private closed = false;
  private readonly timer: NodeJS.Timeout;

  /**
   * `limit`: messages in hand at once (1 = one at a time, in delivery order); `release`: what becomes
   * of a message that was never handed out when the room closes (default: nak).
   */
  constructor(
    keepAliveMillis: number,
    private readonly limit = 1,
    private readonly release: (msg: JsMsg) => void = (msg) => msg.nak(),
  ) {
    this.timer = setInterval(() => {
      for (const t of this.waiting) t.msg.working();
    }, keepAliveMillis).unref();
  }

  /** Messages waiting (not in hand). */
  get size(): number {
    return this.waiting.length;
  }

  /** Messages in hand (handed out, `done` not yet called). */
  get inHand(): number {
    return this.busy.size;
  }

  push(msg: JsMsg, key = ''): void {
    if (this.closed) {
      this.release(msg);
      return;
    }
    this.waiting.push({ msg, key });
    this.wakeUp();
  }

  /** The oldest waiting message whose key is free, once fewer than `limit` are in hand; undefined once closed. */
  async next(): Promise<Turn | undefined> {
    for (;;) {
      if (this.closed) return undefined;
      const t = this.take();
      if (t !== undefined) return t;
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
  }

  /** The handler of `key`'s message has ended: the key's next message (and a slot) are free. */
  done(key: string): void {
    this.busy.delete(key);
    this.wakeUp();
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    for (const t of this.waiting.splice(0)) this.release(t.msg);
    this.wakeUp();
  }

  private take(): Turn | undefined {
    if (this.busy.size >= this.limit) return undefined;
    const i = this.waiting.findIndex((t) => !this.busy.has(t.key));
    if (i < 0) return undefined;
    const [t] = this.waiting.splice(i, 1) as [Turn];
    this.busy.add(t.key);
    return t;
  }

  private wakeUp(): void {
    const w = this.wake;
    this.wake = undefined;
    w?.();
  }
}
