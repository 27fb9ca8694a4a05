import { jetstream, jetstreamManager, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { Feature, Features, parseSemVer, type NatsConnection } from '@nats-io/transport-node';
import { eventCatalog, withFormerNames, type EventCatalog, type EventEnvelope } from '@berth/contracts';
import { Violations } from '@berth/errors';
import { createLogger, type Logger } from '@berth/observability';
import { ensureDurable, type DurableSpec } from './durable.ts';
import { DEFAULT_MAX_EVENT_BYTES } from './edge.ts';
import { parseEnvelope, type EnvelopeParse } from './envelope.ts';
import { checkPrefix, deadLetterSubject, streamName, subjectName, typeSubjects } from './names.ts';
import { createMessageProcessor, Progress } from './process.ts';
import { BerthHeaders } from './publisher.ts';
import { WaitingRoom } from './waiting-room.ts';
import type { ConsumeResult } from './results.ts';

export interface ConsumeContext {
  /** Tell the server the handler is still working, resetting the ack wait (call during long calls). */
  working(): void;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly subject: string;
  readonly streamSequence: number;
}

export type EventHandler = (env: EventEnvelope, ctx: ConsumeContext) => Promise<ConsumeResult>;

export interface ConsumerOptions {
  readonly nc: NatsConnection;
  /** Stream name before prefixing, e.g. `BERTH_INVENTORY`. */
  readonly stream: string;
  /** Durable consumer name; replicas sharing it share the work. */
  readonly durable: string;
  /** Subject before prefixing, e.g. `berth.inventory.vm.*.VmRequested` (one subject: nats-server 2.9). */
  readonly filterSubject: string;
  readonly prefix?: string;
  /** Deliveries before a failing message is dead-lettered (default 5). */
  readonly maxDeliver?: number;
  /** Delay before the n-th redelivery after a thrown error; the last value repeats (default 1s, 5s, 15s, 30s). */
  readonly backoffMillis?: readonly number[];
  /** How long the server waits for ack/nak/working before redelivering (default 30s). */
  readonly ackWaitMillis?: number;
  readonly handle: EventHandler;
  /** Dead-letter subject before prefixing; `berth.dlq.<durable>` by default. */
  readonly deadLetterSubject?: string;
  readonly logger?: Logger;
  /**
   * Messages handled at once (default 1: one at a time, in delivery order). Above 1, messages with
   * the same `orderingKey` are still never handled at the same time and keep their delivery order;
   * messages of other keys go ahead of one whose key is busy.
   */
  readonly concurrency?: number;
  /**
   * The key that serialises messages when `concurrency` > 1 (default: the envelope's `streamId`, so
   * events of one aggregate are handled in order). Poison messages never reach it; if it throws, the
   * streamId is used.
   */
  readonly orderingKey?: (env: EventEnvelope, subject: string) => string;
  /**
   * The event types the handler wants. On nats-server >= 2.10, when `filterSubject` is a
   * `berth.<service>[.<streamType>].>` wildcard, the durable filters on exactly their subjects
   * (`filter_subjects`, see typeSubjects) and the server delivers nothing else. On 2.9 (one filter
   * subject per durable) it sees every type under the wildcard, and any other message is
   * acknowledged as it arrives, unread (judged by its `Berth-Event-Type` header; a message without
   * one is read and handled).
   */
  readonly types?: readonly string[];
  /**
   * Messages pulled per request (default max(64, concurrency): a small batch costs a pull request
   * every few messages, e.g. a consumer that acknowledges most types unread). The consumer holds at most
   * max(20, 2 × batchSize, 2 × concurrency) unacknowledged; waiting ones are kept alive.
   */
  readonly batchSize?: number;
  /** Pull request lifetime (default 30s, minimum 1s); idle heartbeats are half of it. */
  readonly expiresMillis?: number;
  /**
   * The catalog every event is checked against before the handler sees it (default: @berth/contracts'
   * `eventCatalog`): unknown type or version, data failing its schema, a subject that does not match
   * the type are dead-lettered with the reason; older versions are upcast. `false` checks the envelope
   * only (for tests of this wrapper with made-up event types).
   */
  readonly events?: EventCatalog | false;
  /** Bodies larger than this are dead-lettered unread (default 512 KiB). */
  readonly maxEventBytes?: number;
}

export interface RunningConsumer {
  /** Stops pulling, naks waiting messages, lets the ones in hand finish, and resolves when the loop has ended. */
  stop(): Promise<void>;
  /** How often the consumer re-created itself (heartbeats missed, consumer deleted, errors). */
  readonly recoveries: number;
}

const DURABLE_RE = /^[A-Za-z0-9_-]+$/;

function validate(o: ConsumerOptions): void {
  checkPrefix(o.prefix);
  const v = new Violations();
  v.check(DURABLE_RE.test(o.durable), 'durable', `must match ${DURABLE_RE.source}`);
  v.check(o.stream.length > 0, 'stream', 'must not be empty');
  v.check(o.filterSubject.length > 0 && !/\s/.test(o.filterSubject), 'filterSubject', 'must be a subject without spaces');
  v.check(o.maxDeliver === undefined || (Number.isInteger(o.maxDeliver) && o.maxDeliver >= 1), 'maxDeliver', 'must be an integer >= 1');
  v.check(
    o.backoffMillis === undefined || o.backoffMillis.every((b) => Number.isFinite(b) && b >= 0),
    'backoffMillis',
    'must be numbers >= 0',
  );
  v.check(o.ackWaitMillis === undefined || o.ackWaitMillis >= 100, 'ackWaitMillis', 'must be >= 100');
  v.check(o.batchSize === undefined || (Number.isInteger(o.batchSize) && o.batchSize >= 1), 'batchSize', 'must be an integer >= 1');
  v.check(
    o.concurrency === undefined || (Number.isInteger(o.concurrency) && o.concurrency >= 1 && o.concurrency <= 1024),
    'concurrency',
    'must be an integer 1..1024',
  );
  v.check(o.orderingKey === undefined || typeof o.orderingKey === 'function', 'orderingKey', 'must be a function');
  v.check(
    o.types === undefined || (Array.isArray(o.types) && o.types.every((t) => typeof t === 'string' && t.length > 0)),
    'types',
    'must be non-empty strings',
  );
  v.check(o.expiresMillis === undefined || o.expiresMillis >= 1000, 'expiresMillis', 'must be >= 1000');
  v.check(
    o.maxEventBytes === undefined || (Number.isInteger(o.maxEventBytes) && o.maxEventBytes >= 1024),
    'maxEventBytes',
    'must be an integer >= 1024',
  );
  v.throwIfAny();
}

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
  validate(o);
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
          const outcome = await ensureDurable(jsm, spec, progress.resumeFrom());
          logger.warn({ durable: o.durable, stream, outcome }, 'consumer recreated');
        }
        recreate = false;
        const consumer = await js.consumers.get(stream, o.durable);
        const waiting = new WaitingRoom(Math.max(50, Math.floor(spec.ackWaitMillis / 3)), concurrency);
        room = waiting;
        const messages = await consumer.consume({
          max_messages: batchSize,
          expires: o.expiresMillis ?? 30_000,
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
