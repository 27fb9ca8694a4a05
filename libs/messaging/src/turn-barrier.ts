/**
 * Holds back what waits within one turn of the event loop and lets it all go on together, in the
 * check phase of that turn. The NATS client sends what was queued during one run of the microtask
 * queue in one write, so the acks of handlers that end in one turn leave in one write instead of one
 * each (a write per ack, a system call waking the server, was ~10% of the scheduler's CPU in
 * bench:e2e). Delays an ack by less than one turn.
 */
export class TurnBarrier {
  private waiting: (() => void)[] = [];

  wait(): Promise<void> {
    return new Promise((resolve) => {
      if (this.waiting.push(resolve) === 1) setImmediate(() => this.release());
    });
  }

  private release(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const resolve of waiting) resolve();
  }
}
