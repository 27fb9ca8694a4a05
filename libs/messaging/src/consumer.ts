import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { Feature, Features, parseSemVer, type NatsConnection } from '@nats-io/transport-node';
import { eventCatalog, withFormerNames, type EventEnvelope } from '@berth/contracts';
import { createLogger } from '@berth/observability';
import { validateConsumerOptions, type ConsumerOptions, type RunningConsumer } from './consumer-options.ts';
import { ensureDurable, type DurableSpec } from './durable.ts';
import { DEFAULT_MAX_EVENT_BYTES } from './edge.ts';
import { parseEnvelope, type EnvelopeParse } from './envelope.ts';
import { deadLetterSubject, streamName, subjectName, typeSubjects } from './names.ts';
import { createMessageProcessor, Progress } from './process.ts';
import { BerthHeaders } from './publisher.ts';
import { WaitingRoom } from './waiting-room.ts';

export type { ConsumeContext, ConsumerOptions, EventHandler, RunningConsumer } from './consumer-options.ts';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Whether the server takes several filter subjects per consumer (nats-server >= 2.10). */
export function supportsFilterSubjects(nc: NatsConnection): boolean {
  const version = nc.info?.version;
  return version !== undefined && new Features(parseSemVer(version)).get(Feature.JS_MULTIPLE_CONSUMER_FILTER).ok;
}

/**
 * Starts a durable, pull-based, explicit-ack consumer (creating or updating the durable first).
 * Up to `concurrency` messages are handled at once, one per ordering key at a time, in delivery order.
 * Every message ends in ack, nak with delay, or term; a thrown handler error is a nak with backoff;
 * poison (too large, bad JSON or envelope, unknown type or version, data failing its schema), term results and exhausted messages are copied to the dead-letter
 * subject with a reason header, then terminated. When heartbeats are missed or the consumer is deleted
 * on the server, the loop closes the pull and recreates the durable. The server's max_deliver is
 * maxDeliver + 1: a message whose handler never finished its last delivery (crash, ack timeout) comes
 * back once more and is dead-lettered instead of vanishing silently.
 */
export async function startConsumer(o: ConsumerOptions): Promise<RunningConsumer> {
  validateConsumerOptions(o);
  const maxDeliver = o.maxDeliver ?? 5;
  const concurrency = o.concurrency ?? 1;
  const batchSize = o.batchSize ?? Math.max(64, concurrency);
  const stream = streamName(o.stream, o.prefix);
  const logger = o.logger ?? createLogger(`consumer:${o.durable}`);
  // On servers >= 2.10 a durable with `types` names exactly their subjects (`filter_subjects`) and
  // receives nothing else; on 2.9 it filters on the wildcard and acknowledges the rest unread (below).
  // A type wanted also brings the events published under its former names (streams keep them).
  const catalog = o.events === false ? undefined : (o.events ?? eventCatalog);
  const types =
    o.types === undefined || catalog === undefined ? o.types : withFormerNames(catalog, o.filterSubject.split('.')[1] ?? '', o.types);
  const perType = types !== undefined && supportsFilterSubjects(o.nc) ? typeSubjects(o.filterSubject, types) : undefined;
  const spec: DurableSpec = {
    stream,
    durable: o.durable,
    filterSubject: subjectName(o.filterSubject, o.prefix),
    ...(perType === undefined ? {} : { filterSubjects: perType.map((s) => subjectName(s, o.prefix)) }),
    serverMaxDeliver: maxDeliver + 1,
    ackWaitMillis: o.ackWaitMillis ?? 30_000,
    // Bounds what one consumer holds unacknowledged (pulled, waiting, in hand), across replicas.
    maxAckPending: Math.max(20, 2 * batchSize, 2 * concurrency),
  };
  const jsm = await jetstreamManager(o.nc);
  const js = jetstream(o.nc);
  await ensureDurable(jsm, spec);
  // The stream this process reads: a durable created again resumes where the process stopped only in it.
  let streamCreated = (await jsm.streams.info(stream)).created;

  const progress = new Progress();
  const processMessage = createMessageProcessor({
    js,
    durable: o.durable,
    maxDeliver,
    backoffMillis: o.backoffMillis ?? [1000, 5000, 15_000, 30_000],
    deadLetterSubject: subjectName(o.deadLetterSubject ?? deadLetterSubject(o.durable), o.prefix),
    handle: o.handle,
    logger,
    progress,
    edge: {
      catalog,
      prefix: o.prefix,
      maxEventBytes: o.maxEventBytes ?? DEFAULT_MAX_EVENT_BYTES,
    },
  });

  // Only needed to run messages side by side; the envelope parsed for the key is handed to the processor.
  const orderingKey = o.orderingKey ?? ((env: EventEnvelope) => env.streamId);
  const parsedOf = new WeakMap<JsMsg, EnvelopeParse>();
  const keyOf = (m: JsMsg): string => {
    if (concurrency === 1) return '';
    const parsed = parseEnvelope(m.data);
    parsedOf.set(m, parsed);
    if (!parsed.ok) return `poison:${m.info.streamSequence}`; // dead-lettered at once, waits for nothing
    try {
      return orderingKey(parsed.envelope, m.subject);
    } catch (e) {
      logger.error({ err: e, durable: o.durable, seq: m.info.streamSequence }, 'orderingKey failed; using the streamId');
      return parsed.envelope.streamId;
    }
  };

  const wanted = types === undefined ? undefined : new Set(types);
  let stopping = false;
  let current: ConsumerMessages | undefined;
  let room: WaitingRoom | undefined;
  let recoveries = 0;

  const watch = async (messages: ConsumerMessages, onLost: (why: string) => void): Promise<void> => {
    for await (const s of messages.status()) {
      if ((s.type === 'heartbeats_missed' && s.count >= 2) || s.type === 'consumer_deleted' || s.type === 'consumer_not_found') {
        onLost(s.type);
        return;
      }
    }
  };

  const loop = async (): Promise<void> => {
    let recreate = false;
    const inHand = new Set<Promise<void>>();
    while (!stopping) {
      try {
        if (recreate) {
          recoveries += 1;
          // A server that came back without its store made the stream anew: it is read from its beginning.
          const created = (await jsm.streams.info(stream)).created;
          if (created !== streamCreated) {
            progress.forget();
            streamCreated = created;
          }
          const outcome = await ensureDurable(jsm, spec, progress.resumeFrom());
          logger.warn({ durable: o.durable, stream, outcome }, 'consumer recreated');
        }
        recreate = false;
        const consumer = await js.consumers.get(stream, o.durable);
        // What still waits when the pull closes is nak'd, or dead-lettered at its last delivery; the
        // dead-lettering is awaited with the messages in hand, before the durable is recreated or the consumer ends.
        const release = (m: JsMsg): void => {
          const releasing = processMessage.release(m, stopping ? 'the consumer stopped' : 'the consumer closed its pull to recreate it');
          inHand.add(releasing);
          void releasing.finally(() => inHand.delete(releasing));
        };
        const waiting = new WaitingRoom(Math.max(50, Math.floor(spec.ackWaitMillis / 3)), concurrency, release);
        room = waiting;
        const messages = await consumer.consume({
          max_messages: batchSize,
          expires: o.expiresMillis ?? 30_000,
          // On a reconnect, pull again at once. Without it nats.js first asks for the consumer's info,
          // and when a further reset takes that request, it waits `expires` (30 s) before it pulls,
          // ignoring the reconnects meanwhile (consumer-reconnect.int.spec). A consumer deleted on the
          // server still says so (409), and one that is gone is found by the missed heartbeats (watch).
          bind: true,
          callback: (m) => {
            progress.received(m.info.streamSequence);
            const type = wanted === undefined ? undefined : m.headers?.get(BerthHeaders.eventType);
            if (wanted !== undefined && type !== undefined && type !== '' && !wanted.has(type)) {
              m.ack();
              progress.finished(m.info.streamSequence);
              return;
            }
            waiting.push(m, keyOf(m));
          },
        });
        current = messages;
        if (stopping) break;
        void watch(messages, (why) => {
          logger.warn({ durable: o.durable, stream, why }, 'consumer lost; recreating');
          recreate = true;
          waiting.close();
          void messages.close();
        });
        void messages.closed().then(() => waiting.close());
        for (let t = await waiting.next(); t !== undefined; t = await waiting.next()) {
          const { msg, key } = t;
          const handling = processMessage(msg, parsedOf.get(msg))
            .catch((e: unknown) =>
              logger.error({ err: e, durable: o.durable, seq: msg.info.streamSequence }, 'message not ended; the server will redeliver it'),
            )
            .finally(() => {
              inHand.delete(handling);
              waiting.done(key);
            });
          inHand.add(handling);
          if (stopping || recreate) break;
        }
        waiting.close();
        await messages.close();
        if (!stopping) recreate = true;
      } catch (e) {
        if (stopping) break;
        logger.error({ err: e, durable: o.durable, stream }, 'consumer loop failed; retrying');
        recreate = true;
        await sleep(1000);
      } finally {
        // Before recreating (or ending): no redelivery may overtake a message of its key still in hand.
        await Promise.all(inHand);
      }
    }
    room?.close();
    await current?.close();
  };
  const done = loop();

  return {
    async stop() {
      stopping = true;
      room?.close();
      await current?.close();
      await done;
    },
    get recoveries() {
      return recoveries;
    },
  };
}
