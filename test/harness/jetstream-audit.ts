/** What JetStream holds for a test prefix: dead letters, consumer positions, stream messages (tests only). */
import { randomUUID } from 'node:crypto';
import { headers as natsHeaders, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type StoredMsg } from '@nats-io/jetstream';

export interface DeadLetter {
  readonly durable: string;
  readonly reason: string;
  readonly stream: string;
  readonly streamSeq: number;
  readonly subject: string;
}

/** Every message in the prefix's dead-letter stream. */
export async function deadLetters(nc: NatsConnection, prefix: string): Promise<DeadLetter[]> {
  const out: DeadLetter[] = [];
  for (const m of await streamMessages(nc, `${prefix.toUpperCase()}_BERTH_DLQ`)) {
    out.push({
      durable: m.header.get('Berth-Dlq-Durable'),
      reason: m.header.get('Berth-Dlq-Reason'),
      stream: m.header.get('Berth-Dlq-Stream'),
      streamSeq: Number(m.header.get('Berth-Dlq-Stream-Seq')),
      subject: m.header.get('Berth-Dlq-Subject'),
    });
  }
  return out;
}

/** The messages a stream holds, in order (for the small streams of one test). */
export async function streamMessages(nc: NatsConnection, stream: string): Promise<StoredMsg[]> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream).catch(() => undefined);
  if (info === undefined) return [];
  const out: StoredMsg[] = [];
  for (let seq = info.state.first_seq; seq <= info.state.last_seq && info.state.messages > 0; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
    if (m) out.push(m);
  }
  return out;
}

/** Publishes a stored message again under a fresh message id (JetStream does not drop it as a duplicate). */
export async function republish(nc: NatsConnection, m: StoredMsg): Promise<number> {
  const h = natsHeaders();
  for (const [k, values] of m.header ?? []) {
    if (k === 'Nats-Msg-Id') continue;
    for (const v of values) h.append(k, v);
  }
  const ack = await jetstream(nc).publish(m.subject, m.data, { headers: h, msgID: randomUUID() });
  return ack.seq;
}

/** Whether every durable of `stream` has acknowledged everything up to its last message. */
export async function drained(nc: NatsConnection, stream: string, durables: readonly string[]): Promise<boolean> {
  const jsm = await jetstreamManager(nc);
  for (const d of durables) {
    const c = await jsm.consumers.info(stream, d);
    if (c.num_pending > 0 || c.num_ack_pending > 0) return false;
  }
  return true;
}
