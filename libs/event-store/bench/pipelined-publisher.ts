import { createInbox, headers, type NatsConnection } from '@nats-io/transport-node';

/**
 * JetStream publishing with many messages in flight and one reply subscription for all acks (no
 * request object or timer per message, unlike js.publish). At most `maxInFlight` are sent and not yet
 * acknowledged; the rest wait their turn, and `timeoutMillis` counts from a message's send, not from
 * its call (with 10,000 called at once and a server fsyncing every write under load, the last ones
 * used to time out while still queued behind the others). Each promise resolves on the stream's
 * PubAck and rejects on its error, on no responders, or `timeoutMillis` after it was sent.
 */
export function pipelinedPublisher(nc: NatsConnection, timeoutMillis = 5000, maxInFlight = 1024) {
  const inbox = createInbox();
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void; at: number }>();
  const queued: { subject: string; data: string; msgId: string; resolve: () => void; reject: (e: Error) => void }[] = [];
  let head = 0;
  let next = 0;
  const send = (q: (typeof queued)[number]): void => {
    const n = next++;
    pending.set(n, { resolve: q.resolve, reject: q.reject, at: Date.now() });
    const h = headers();
    h.set('Nats-Msg-Id', q.msgId);
    nc.publish(q.subject, q.data, { reply: `${inbox}.${n}`, headers: h });
  };
  const settled = (): void => {
    while (pending.size < maxInFlight && head < queued.length) send(queued[head++]!);
    if (head === queued.length) {
      queued.length = 0;
      head = 0;
    }
  };
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (_err, m) => {
      const n = Number(m.subject.slice(inbox.length + 1));
      const p = pending.get(n);
      if (p === undefined) return;
      pending.delete(n);
      settled();
      if (m.headers?.hasError === true) return p.reject(new Error(`publish failed: ${m.headers.code} ${m.headers.description}`));
      const ack = m.json<{ error?: { description: string } }>();
      if (ack.error !== undefined) p.reject(new Error(`publish failed: ${ack.error.description}`));
      else p.resolve();
    },
  });
  const sweep = setInterval(() => {
    const old = Date.now() - timeoutMillis;
    for (const [n, p] of pending) {
      if (p.at < old) {
        pending.delete(n);
        p.reject(new Error('publish timed out'));
      }
    }
    settled();
  }, 250);
  return {
    publish: async (subject: string, data: string, msgId: string): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        queued.push({ subject, data, msgId, resolve, reject });
        settled();
      }),
    close: (): void => {
      clearInterval(sweep);
      sub.unsubscribe();
    },
  };
}
