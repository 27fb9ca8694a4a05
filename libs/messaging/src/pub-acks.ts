import { createInbox, type MsgHdrs, type NatsConnection } from '@nats-io/transport-node';
import { IllegalStateError } from '@berth/errors';

export interface StreamAck {
  readonly stream: string;
  readonly seq: number;
  readonly duplicate: boolean;
}

interface Pending {
  readonly resolve: (a: StreamAck) => void;
  readonly reject: (e: Error) => void;
  readonly at: number;
}

export class PublishError extends Error {
  override readonly name = 'PublishError';
  constructor(
    readonly subject: string,
    message: string,
  ) {
    super(`publish to ${subject}: ${message}`);
  }
}

/**
 * JetStream publishing with many messages in flight: one reply subscription for every PubAck and one
 * sweeper for timeouts, instead of js.publish's request, error objects and timer per message, which
 * cost the relay most of its throughput. Each promise settles on the stream's ack, its error, no
 * responders (no stream holds the subject) or after `timeoutMillis`.
 */
export class PubAckTracker {
  private readonly inbox: string;
  private readonly pending = new Map<number, Pending>();
  private readonly subjects = new Map<number, string>();
  private next = 0;
  private closed = false;
  private readonly sweeper: NodeJS.Timeout;

  constructor(
    private readonly nc: NatsConnection,
    private readonly timeoutMillis: number,
  ) {
    // The connection's own inbox prefix: with NATS users, the only inboxes this user may subscribe to.
    this.inbox = createInbox((nc as { options?: { inboxPrefix?: string } }).options?.inboxPrefix);
    nc.subscribe(`${this.inbox}.*`, { callback: (_err, m) => this.settle(Number(m.subject.slice(this.inbox.length + 1)), m) });
    this.sweeper = setInterval(() => this.sweep(), Math.min(250, timeoutMillis)).unref();
  }

  publish(subject: string, body: Uint8Array | string, headers?: MsgHdrs): Promise<StreamAck> {
    if (this.closed) return Promise.reject(new IllegalStateError('publisher is closed'));
    return new Promise<StreamAck>((resolve, reject) => {
      const n = this.next++;
      this.pending.set(n, { resolve, reject, at: Date.now() });
      this.subjects.set(n, subject);
      try {
        this.nc.publish(subject, body, headers === undefined ? { reply: `${this.inbox}.${n}` } : { reply: `${this.inbox}.${n}`, headers });
      } catch (e) {
        this.drop(n);
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  }

  close(): void {
    this.closed = true;
    clearInterval(this.sweeper);
    for (const n of [...this.pending.keys()]) this.fail(n, 'publisher closed before the stream acknowledged');
  }

  private settle(n: number, m: { headers?: MsgHdrs; json<T>(): T }): void {
    const p = this.pending.get(n);
    if (p === undefined) return;
    if (m.headers?.hasError === true) {
      const why = m.headers.code === 503 ? 'no stream holds this subject (no responders)' : `${m.headers.code} ${m.headers.description}`;
      return this.fail(n, why);
    }
    let ack: { stream?: string; seq?: number; duplicate?: boolean; error?: { code?: number; description?: string } };
    try {
      ack = m.json();
    } catch {
      return this.fail(n, 'unreadable acknowledgement');
    }
    if (ack.error !== undefined) return this.fail(n, `${ack.error.code ?? ''} ${ack.error.description ?? 'error'}`.trim());
    this.drop(n);
    p.resolve({ stream: ack.stream ?? '', seq: ack.seq ?? 0, duplicate: ack.duplicate === true });
  }

  private sweep(): void {
    const old = Date.now() - this.timeoutMillis;
    for (const [n, p] of this.pending) if (p.at < old) this.fail(n, `no acknowledgement within ${this.timeoutMillis} ms`);
  }

  private fail(n: number, why: string): void {
    const p = this.pending.get(n);
    const subject = this.subjects.get(n) ?? '?';
    this.drop(n);
    p?.reject(new PublishError(subject, why));
  }

  private drop(n: number): void {
    this.pending.delete(n);
    this.subjects.delete(n);
  }
}
