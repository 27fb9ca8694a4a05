import type { Logger } from '@berth/observability';
import type { HostChange, SnapshotSink } from '../postgres/projection.ts';
import { oneAtATime } from './one-at-a-time.ts';

export interface LingeringSink extends SnapshotSink {
  /** Puts every snapshot held back and stops the timer (at shutdown). */
  close(): Promise<void>;
}

/**
 * Holds back the snapshot of a host whose only change is new placements (HostChange.placementsOnly)
 * for up to `lingerMillis`, so a host claimed again within that time is put once: under load every
 * claim lands on another host (spread) and each put is an fsynced JetStream write, a document
 * serialised here and a delivery to every scheduler. A held host is put with the first later change
 * that is not placements alone (the snapshot is the whole host, so its held claims go with it), or
 * when its time is up (at the next batch or on a timer when none comes).
 *
 * What waits is only ever less room than the bucket shows, and only room a scheduler took itself: the
 * replica that placed the VM counts its claim on the wire (in-flight view) until a snapshot holds it,
 * and inventory checks every claim against the log, so any other reader can only try a host and be
 * refused. A live migration's destination claim is not a placement and goes out with its batch: the
 * scheduler that picks the next destination must see it. Changes that give a host room (a release, a
 * state or capacity change, a registration) and removals are never held, and the view position still
 * covers all of them. A process that stops without close() leaves the bucket behind by the held
 * claims: the next start puts the hosts whose generation the bucket lacks (KvSnapshotSink.resync).
 */
export function lingerClaims(inner: SnapshotSink, lingerMillis: number, logger: Logger, now: () => number = Date.now): LingeringSink {
  if (lingerMillis <= 0) return { ...inner, hosts: (c) => inner.hosts(c), close: async () => undefined };
  /** Host id -> the newest held change and when it is due (the first held change's time + lingerMillis). */
  const held = new Map<string, { change: HostChange; due: number }>();
  let timer: NodeJS.Timeout | undefined;
  // Batches and timer flushes one after another: a flush and a batch never put one host's snapshots out of order.
  const serial = oneAtATime();

  /** The held changes due at `t` (all when `t` is Infinity), taken out of `held`. */
  const takeDue = (t: number): HostChange[] => {
    const out: HostChange[] = [];
    for (const [hostId, h] of held) {
      if (h.due > t) continue;
      out.push(h.change);
      held.delete(hostId);
    }
    return out;
  };

  const arm = (): void => {
    if (timer !== undefined || held.size === 0) return;
    let next = Infinity;
    for (const h of held.values()) next = Math.min(next, h.due);
    timer = setTimeout(
      () => {
        timer = undefined;
        void serial(() => put(takeDue(now()))).catch((err: unknown) => logger.warn({ err }, 'held host snapshots not put; retried'));
      },
      Math.max(0, next - now()),
    );
    timer.unref();
  };

  /**
   * Puts `changes`; on failure the claims among them are held again for another linger (the others
   * come again with the projection's retried batch).
   */
  const put = async (changes: readonly HostChange[]): Promise<void> => {
    try {
      if (changes.length > 0) await inner.hosts(changes);
    } catch (err) {
      const due = now() + lingerMillis;
      for (const c of changes) if (c.placementsOnly && !held.has(c.hostId)) held.set(c.hostId, { change: c, due });
      throw err;
    } finally {
      arm();
    }
  };

  return {
    hosts: (changes) =>
      serial(async () => {
        const t = now();
        const out: HostChange[] = [];
        for (const c of changes) {
          if (c.placementsOnly) {
            held.set(c.hostId, { change: c, due: held.get(c.hostId)?.due ?? t + lingerMillis });
          } else {
            held.delete(c.hostId);
            out.push(c);
          }
        }
        await put([...out, ...takeDue(t)]);
      }),
    hardwareConfig: (c) => inner.hardwareConfig(c),
    position: (p) => inner.position(p),
    close: () =>
      serial(async () => {
        clearTimeout(timer);
        timer = undefined;
        const rest = takeDue(Infinity);
        if (rest.length > 0) await inner.hosts(rest);
      }),
  };
}
