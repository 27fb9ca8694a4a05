import type { Logger } from '@berth/observability';

/** What a KV watch of nats.js is: entries in order until `stop()`. */
export interface WatchIterator<E> extends AsyncIterable<E> {
  stop(): void;
}

export interface FollowOptions {
  /** Names the watch in the log, e.g. `host snapshots`. */
  readonly what: string;
  readonly logger: Logger;
  /** Wait before opening the watch again (default 1 s). */
  readonly retryMillis?: number;
}

/**
 * Follows a watch until `stop()`: every entry goes to `handle`, in order. A watch that ends or fails
 * on its own (its iterator throws or completes: the consumer under it was deleted, the stream was
 * recreated, `handle` threw) is logged and opened again after `retryMillis`, as often as it takes,
 * so what it feeds never goes silently stale and the failure is never an unhandled rejection. The
 * new watch replays the latest value of every key first: handlers take the latest state of a key,
 * so applying it again changes nothing. The first `open` is awaited: a watch that cannot start fails
 * the caller's start.
 */
export async function followWatch<E>(
  open: () => Promise<WatchIterator<E>>,
  handle: (entry: E) => void | Promise<void>,
  o: FollowOptions,
): Promise<{ stop(): Promise<void> }> {
  let it: WatchIterator<E> | undefined = await open();
  let stopped = false;
  let wake: (() => void) | undefined;
  const pause = () =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, o.retryMillis ?? 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  const done = (async () => {
    while (!stopped) {
      if (it === undefined) {
        await pause();
        if (stopped) return;
        try {
          it = await open();
        } catch (e) {
          o.logger.warn({ err: e, watch: o.what }, `the ${o.what} watch could not be opened again; retrying`);
          continue;
        }
        if (stopped) {
          it.stop();
          return;
        }
      }
      let why: unknown = new Error('the watch completed');
      try {
        for await (const e of it) await handle(e);
      } catch (e) {
        why = e;
      }
      if (stopped) return;
      it.stop();
      it = undefined;
      o.logger.warn({ err: why, watch: o.what }, `the ${o.what} watch ended on its own; opening it again`);
    }
  })();
  return {
    async stop() {
      stopped = true;
      it?.stop();
      wake?.();
      await done;
    },
  };
}
