import type { Kysely } from 'kysely';
import pg from 'pg';
import { listenConfigOf } from './connection.ts';

/** pino-compatible subset the loops log through. */
export interface LoopLogger {
  warn(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export const consoleLogger: LoopLogger = {
  warn: (obj, msg) => console.warn(msg, obj),
  error: (obj, msg) => console.error(msg, obj),
};

/**
 * Wakes a tailing loop when an append commits (LISTEN on the store's channel), else after
 * `pollMillis`. A notification that arrives while the loop is busy is kept for its next wait.
 */
export class Wakeup {
  private pending = false;
  private wake: (() => void) | undefined;
  private client: pg.Client | undefined;
  private closed = false;
  private retry: NodeJS.Timeout | undefined;

  private constructor(
    private readonly config: pg.ClientConfig | undefined,
    private readonly channel: string,
    private readonly logger: LoopLogger,
  ) {}

  /** Listens when `db` came from createKysely; otherwise the loop only polls. */
  static async start(db: Kysely<unknown>, channel: string, logger: LoopLogger): Promise<Wakeup> {
    const w = new Wakeup(listenConfigOf(db), channel, logger);
    await w.connect();
    return w;
  }

  private async connect(): Promise<void> {
    if (this.config === undefined || this.closed) return;
    const client = new pg.Client(this.config);
    client.on('notification', () => this.notify());
    client.on('error', (err) => {
      this.logger.warn({ err: err.message }, 'event-store: LISTEN connection failed; polling until it is back');
      this.reconnectLater(client);
    });
    client.on('end', () => this.reconnectLater(client));
    try {
      await client.connect();
      await client.query(`LISTEN ${this.channel}`);
      this.client = client;
      // Anything committed while we were not listening must not wait for the next poll.
      this.notify();
    } catch (err) {
      this.logger.warn({ err: (err as Error).message }, 'event-store: cannot LISTEN; polling');
      this.reconnectLater(client);
    }
  }

  private reconnectLater(client: pg.Client): void {
    if (this.client === client) this.client = undefined;
    client.removeAllListeners('end');
    void client.end().catch(() => undefined);
    if (this.closed || this.retry !== undefined) return;
    this.retry = setTimeout(() => {
      this.retry = undefined;
      void this.connect();
    }, 1000);
  }

  notify(): void {
    this.pending = true;
    this.wake?.();
  }

  /** Resolves on a notification, after `millis`, or when `signal` aborts. */
  async wait(millis: number, signal: AbortSignal): Promise<void> {
    if (this.pending || signal.aborted) {
      this.pending = false;
      return;
    }
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, millis);
      signal.addEventListener('abort', done, { once: true });
      this.wake = done;
    });
    this.pending = false;
  }

  async close(): Promise<void> {
    this.closed = true;
    clearTimeout(this.retry);
    const c = this.client;
    this.client = undefined;
    if (c !== undefined) {
      c.removeAllListeners('end');
      await c.end().catch(() => undefined);
    }
  }
}

/** Sleeps `millis` or until `signal` aborts. */
export async function pause(millis: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, millis);
    signal.addEventListener('abort', done, { once: true });
  });
}

/** Delay before retry n (0-based) of a failing loop step: doubling from `base`, at most 30 s. */
export const backoffMillis = (base: number, failures: number): number => Math.min(30_000, base * 2 ** Math.min(failures, 15));
