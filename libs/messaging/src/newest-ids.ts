import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { loadNatsDefinitions, type NatsDefinitions } from './definitions.ts';
import { streamName } from './names.ts';

/** How many message gets are in flight at once while reading a stream's tail. */
const PARALLEL_GETS = 100;

/**
 * The `Nats-Msg-Id` (the event id) of each of the newest `count` messages of `stream`, oldest first,
 * read by sequence (`$JS.API.STREAM.MSG.GET.<stream>`: each service may do it on the stream it
 * publishes to). A relay reads them when it resumes from its checkpoint (startRelay's
 * `alreadyPublished`), so what it published before its checkpoint moved is not published again.
 */
export async function newestMessageIds(nc: NatsConnection, stream: string, count: number): Promise<string[]> {
  const jsm = await jetstreamManager(nc);
  const { state } = await jsm.streams.info(stream);
  if (state.messages === 0 || count < 1) return [];
  const from = Math.max(state.first_seq, state.last_seq - count + 1);
  const ids: string[] = [];
  for (let seq = from; seq <= state.last_seq; seq += PARALLEL_GETS) {
    const seqs = Array.from({ length: Math.min(PARALLEL_GETS, state.last_seq - seq + 1) }, (_, i) => seq + i);
    // A message deleted from the stream (a gap in the sequence) comes back null.
    const msgs = await Promise.all(seqs.map(async (s) => jsm.streams.getMessage(stream, { seq: s })));
    for (const m of msgs) {
      const id = m?.header?.get('Nats-Msg-Id');
      if (id) ids.push(id);
    }
  }
  return ids;
}

/** The (prefixed) stream that holds the events of `service` (`berth.<service>.>` in streams.json). */
export function eventStreamOf(service: string, prefix?: string, defs: NatsDefinitions = loadNatsDefinitions()): string {
  const subject = `berth.${service}.>`;
  const def = defs.streams.find((s) => s.subjects.includes(subject));
  if (def === undefined) throw new Error(`no stream in infra/nats/streams.json holds ${subject}`);
  return streamName(def.name, prefix);
}
