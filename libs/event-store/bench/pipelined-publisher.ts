import { createInbox, headers, type NatsConnection } from '@nats-io/transport-node';

/**
 * JetStream publishing with many messages in flight and one reply subscription for all acks (no
 * request object or timer per message, unlike js.publish). Each promise resolves on the stream's
 * PubAck and rejects on its error, on no responders, or after `timeoutMillis`.
 */
export function pipelinedPublisher(nc: NatsConnection, timeoutMillis = 5000) {
  const inbox = createInbox();
  const pending = new Map<number, { resolve: () => void; reject: (e: Error) => void; at: number }>();
  let next = 0;
  const sub = nc.subscribe(`${inbox}.*`, {
    callback: (_err, m) => {
      const n = Number(m.subject.slice(inbox.length + 1));
      const p = pending.get(n);
      if (p === undefined) return;
      pending.delete(n);
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
  }, 250);
  return {
    publish: async (subject: string, data: string, msgId: string): Promise<void> =>
      new Promise<void>((resolve, reject) => {
        const n = next++;
        pending.set(n, { resolve, reject, at: Date.now() });
        const h = headers();
        h.set('Nats-Msg-Id', msgId);
        nc.publish(subject, data, { reply: `${inbox}.${n}`, headers: h });
      }),
    close: (): void => {
      clearInterval(sweep);
      sub.unsubscribe();
    },
  };
}
