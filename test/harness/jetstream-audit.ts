/**
 * What JetStream holds for a test prefix, and a tap on it (tests only): dead letters, consumer
 * positions, stream messages; copies of stored messages published again (under a fresh message id,
 * or under their own once the stream's duplicate window has passed).
 */
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { headers as natsHeaders, nanos, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import { eventually } from '@berth/testing';

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

/** Publishes a stored message again under a fresh message id (JetStream does not drop it as a duplicate), on `subject` if given. */
export async function republish(nc: NatsConnection, m: StoredMsg, subject = m.subject): Promise<number> {
  return (await publishCopy(nc, m, randomUUID(), subject)).seq;
}

/**
 * Publishes a stored message again under its own message id (`Nats-Msg-Id`): inside the stream's
 * duplicate window JetStream drops it (`duplicate`), after it the copy is stored as a new message.
 */
export function republishSameId(nc: NatsConnection, m: StoredMsg): Promise<{ seq: number; duplicate: boolean }> {
  const id = m.header?.get('Nats-Msg-Id');
  if (!id) throw new Error(`message ${m.seq} of ${m.subject} has no Nats-Msg-Id`);
  return publishCopy(nc, m, id, m.subject);
}

async function publishCopy(nc: NatsConnection, m: StoredMsg, msgID: string, subject: string): Promise<{ seq: number; duplicate: boolean }> {
  const h = natsHeaders();
  for (const [k, values] of m.header ?? []) {
    if (k === 'Nats-Msg-Id') continue;
    for (const v of values) h.append(k, v);
  }
  const ack = await jetstream(nc).publish(subject, m.data, { headers: h, msgID });
  return { seq: ack.seq, duplicate: ack.duplicate };
}

/** Sets a stream's duplicate window (the services' ensureStreams sets it again only when they start). */
export async function setDuplicateWindow(nc: NatsConnection, stream: string, millis: number): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const info = await jsm.streams.info(stream);
  await jsm.streams.update(stream, { ...info.config, duplicate_window: nanos(millis) });
}

/** The durables infra/nats/consumers.json declares, with their stream (unprefixed). */
export const DECLARED_DURABLES: readonly { readonly durable: string; readonly stream: string }[] = (
  JSON.parse(readFileSync(new URL('../../infra/nats/consumers.json', import.meta.url), 'utf8')) as {
    consumers: { durable: string; stream: string }[];
  }
).consumers.map(({ durable, stream }) => ({ durable, stream }));

/** Waits until every declared durable of the prefix has acknowledged everything its stream holds. */
export function allDrained(nc: NatsConnection, prefix: string, timeoutMillis = 120_000): Promise<unknown> {
  const streams = [...new Set(DECLARED_DURABLES.map((d) => d.stream))];
  return eventually(
    async () => {
      for (const s of streams) {
        const durables = DECLARED_DURABLES.filter((d) => d.stream === s).map((d) => d.durable);
        if (!(await drained(nc, `${prefix.toUpperCase()}_${s}`, durables))) return false;
      }
      return true;
    },
    'every durable drained',
    timeoutMillis,
  );
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
