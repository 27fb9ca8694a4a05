import { headers as natsHeaders } from '@nats-io/transport-node';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';

/** Headers on a dead letter, naming why and where it came from (originals are kept too). */
export const DeadLetterHeaders = {
  reason: 'Berth-Dlq-Reason',
  durable: 'Berth-Dlq-Durable',
  stream: 'Berth-Dlq-Stream',
  streamSequence: 'Berth-Dlq-Stream-Seq',
  subject: 'Berth-Dlq-Subject',
  deliveries: 'Berth-Dlq-Deliveries',
} as const;

/**
 * Copies `m` (body and headers) to `subject` with headers naming `reason`; resolves when the
 * dead-letter stream acknowledged it. Its message id is derived from the source position, so a
 * retried dead-lettering stores one copy.
 */
export async function publishDeadLetter(js: JetStreamClient, subject: string, m: JsMsg, durable: string, reason: string): Promise<void> {
  const h = natsHeaders();
  for (const [k, values] of m.headers ?? []) {
    if (k === 'Nats-Msg-Id') continue;
    for (const v of values) h.append(k, v);
  }
  // Header values are single-line.
  h.set(DeadLetterHeaders.reason, reason.replace(/[\r\n]+/g, ' ').slice(0, 1024));
  h.set(DeadLetterHeaders.durable, durable);
  h.set(DeadLetterHeaders.stream, m.info.stream);
  h.set(DeadLetterHeaders.streamSequence, String(m.info.streamSequence));
  h.set(DeadLetterHeaders.subject, m.subject);
  h.set(DeadLetterHeaders.deliveries, String(m.info.deliveryCount));
  await js.publish(subject, m.data, { headers: h, msgID: `dlq:${m.info.stream}:${durable}:${m.info.streamSequence}` });
}
