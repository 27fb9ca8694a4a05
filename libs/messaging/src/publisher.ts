import { context, SpanKind, trace } from '@opentelemetry/api';
import { MsgHdrsImpl, type NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope } from '@berth/contracts';
import { extractTraceContext, injectTraceHeaders, withSpan } from '@berth/observability';
import { envelopeBody, type RawEventEnvelope } from './envelope.ts';
import { checkPrefix, eventSubject, subjectName } from './names.ts';
import { PubAckTracker } from './pub-acks.ts';
import { eventStreamOf, newestMessageIds } from './newest-ids.ts';

/** An envelope plus the producer's metadata (StoredEvent from @berth/event-store fits). */
export type PublishableEvent = EventEnvelope & { readonly metadata?: Readonly<Record<string, string>> };
/**
 * The same with the data as JSON text (`dataJson`, one JSON value; @berth/event-store's RawStoredEvent,
 * what `startRelay({ publishRaw })` hands out, fits): the body is built around the text as it is.
 */
export type RawPublishableEvent = RawEventEnvelope & { readonly metadata?: Readonly<Record<string, string>> };
/** What subjectFor sees: every field but the data, which a raw event holds as text only. */
export type PublishableEventHead = Omit<PublishableEvent, 'data'>;

export interface PublisherOptions {
  /** Producing service, the `<service>` of `berth.<service>.<streamType>[.<project>].<type>` (eventSubject). */
  readonly service: string;
  /** Test isolation prefix, the same one given to ensureStreams. */
  readonly prefix?: string;
  /** Overrides the subject (before prefixing). */
  readonly subjectFor?: (e: PublishableEventHead) => string;
  /** Wait for the stream's acknowledgement at most this long (default 5000). */
  readonly timeoutMillis?: number;
}

export interface PublishResult {
  readonly subject: string;
  readonly stream: string;
  readonly seq: number;
  /** The server already held a message with this event id (within the duplicate window). */
  readonly duplicate: boolean;
}

/** Header names Berth sets on every event message. */
export const BerthHeaders = {
  msgId: 'Nats-Msg-Id',
  eventType: 'Berth-Event-Type',
  schemaVersion: 'Berth-Schema-Version',
  streamId: 'Berth-Stream-Id',
  /** The project of the VM (or project) the event concerns, when it concerns one. */
  project: 'Berth-Project',
} as const;

/**
 * Sets a header the message does not have yet. Berth's header names are canonical already, so a
 * value nats.js would keep as it is goes straight into the headers' map: nats.js's `append`
 * canonicalises the name, lists every key to match it and tests the value on each call, per header
 * of every event (`set` does that twice). A value it would trim or refuse (CR, LF) goes through
 * `append`, which does so.
 */
export function putHeader(h: MsgHdrsImpl, name: string, value: string): void {
  if (value.indexOf('\r') < 0 && value.indexOf('\n') < 0 && value.trim() === value && !h.headers.has(name)) h.headers.set(name, [value]);
  else h.append(name, value);
}

/** The headers Berth sets on an event's message (BerthHeaders), in this order. */
export function eventHeaders(e: PublishableEventHead): MsgHdrsImpl {
  const h = new MsgHdrsImpl();
  putHeader(h, BerthHeaders.msgId, e.id);
  putHeader(h, BerthHeaders.eventType, e.type);
  putHeader(h, BerthHeaders.schemaVersion, String(e.schemaVersion));
  putHeader(h, BerthHeaders.streamId, e.streamId);
  if (e.project !== undefined) putHeader(h, BerthHeaders.project, e.project);
  return h;
}

/** A W3C traceparent (version 00) whose sampled flag is off, with valid non-zero ids. */
const UNSAMPLED = /^00-(?!0{32})[\da-f]{32}-(?!0{16})[\da-f]{16}-[\da-f][02468ace]$/;

/**
 * Publishes one event; `close()` fails what is still in flight and stops the timeout sweeper;
 * `newestIds(n)` reads back the event ids of the newest n messages of the service's stream (a relay's
 * `alreadyPublished`).
 */
export type EventPublisher = ((e: PublishableEvent | RawPublishableEvent) => Promise<PublishResult>) & {
  close(): void;
  readonly newestIds: (count: number) => Promise<string[]>;
};

/**
 * Returns a function that publishes one event to JetStream and resolves once the stream has
 * acknowledged it (so a relay may then advance its checkpoint). `Nats-Msg-Id` = event id, so a
 * re-publish within the stream's duplicate window (2 minutes) is dropped by the server, also across a
 * restart of the server (it rebuilds the window from the stored messages); a relay resuming later
 * skips what `newestIds` finds. The publish span is a child
 * of the context recorded with the event (`metadata.traceparent`, i.e. the append), else of the
 * active one, and its context travels in the `traceparent`/`tracestate` headers.
 */
export function createEventPublisher(nc: NatsConnection, options: PublisherOptions): EventPublisher {
  checkPrefix(options.prefix);
  const acks = new PubAckTracker(nc, options.timeoutMillis ?? 5000);
  const publish = async (e: PublishableEvent | RawPublishableEvent): Promise<PublishResult> => {
    const subject = subjectName(options.subjectFor?.(e) ?? eventSubject(options.service, e.streamId, e.type, e.project), options.prefix);
    const traceparent = e.metadata?.['traceparent'];
    if (traceparent !== undefined && UNSAMPLED.test(traceparent)) {
      // A trace nobody records (every sampler Berth configures is parent-based): no span would be
      // made, so the recorded context travels on as it is, without being parsed and re-encoded.
      const h = eventHeaders(e);
      putHeader(h, 'traceparent', traceparent);
      const state = e.metadata?.['tracestate'];
      if (state) putHeader(h, 'tracestate', state);
      const ack = await acks.publish(subject, envelopeBody(e), h);
      return { subject, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
    }
    const parent = e.metadata?.['traceparent'] ? extractTraceContext(e.metadata, context.active()) : context.active();
    return withSpan(
      `${subject} publish`,
      async (span) => {
        const h = eventHeaders(e);
        injectTraceHeaders(h, trace.setSpan(context.active(), span));
        const ack = await acks.publish(subject, envelopeBody(e), h);
        span.setAttribute('messaging.destination.partition.id', ack.stream);
        span.setAttribute('berth.duplicate', ack.duplicate);
        return { subject, stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate };
      },
      {
        kind: SpanKind.PRODUCER,
        parent,
        attributes: {
          'messaging.system': 'nats',
          'messaging.operation.type': 'send',
          'messaging.destination.name': subject,
          'messaging.message.id': e.id,
          'berth.event.type': e.type,
        },
      },
    );
  };
  let stream: string | undefined;
  const newestIds = async (count: number): Promise<string[]> => {
    stream ??= eventStreamOf(options.service, options.prefix);
    return newestMessageIds(nc, stream, count);
  };
  return Object.assign(publish, { close: () => acks.close(), newestIds });
}
