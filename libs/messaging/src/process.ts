import { ROOT_CONTEXT, SpanKind } from '@opentelemetry/api';
import type { JetStreamClient, JsMsg } from '@nats-io/jetstream';
import { extractTraceContext, withSpan, type Logger } from '@berth/observability';
import type { EventHandler } from './consumer-options.ts';
import { publishDeadLetter } from './dead-letter.ts';
import { checkEvent, type EdgeCheck } from './edge.ts';
import { parseEnvelope, type EnvelopeParse } from './envelope.ts';
import { TurnBarrier } from './turn-barrier.ts';
import type { ConsumeResult } from './results.ts';

/**
 * Stream sequences this process received but has not finished (nak'd, in hand) and the highest one it
 * finished; if the durable must be created again, delivery resumes at the lowest unfinished one.
 */
export class Progress {
  private readonly open = new Set<number>();
  private maxFinished = 0;
  received(seq: number): void {
    this.open.add(seq);
  }
  finished(seq: number): void {
    this.open.delete(seq);
    this.maxFinished = Math.max(this.maxFinished, seq);
  }
  /** The stream was made anew (its sequences start again at 1): nothing of the old one counts. */
  forget(): void {
    this.open.clear();
    this.maxFinished = 0;
  }
  resumeFrom(): number | undefined {
    if (this.open.size === 0 && this.maxFinished === 0) return undefined;
    let from = this.maxFinished + 1;
    for (const seq of this.open) from = Math.min(from, seq);
    return from;
  }
}

export interface ProcessorDeps {
  readonly js: JetStreamClient;
  readonly durable: string;
  readonly maxDeliver: number;
  readonly backoffMillis: readonly number[];
  readonly deadLetterSubject: string;
  readonly handle: EventHandler;
  readonly logger: Logger;
  readonly progress: Progress;
  /** What every message must pass before the handler sees it (size, type, version, schema). */
  readonly edge: EdgeCheck;
}

type Outcome = ConsumeResult | { readonly kind: 'error'; readonly error: unknown };

const message = (e: unknown): string => (e instanceof Error ? e.message : String(e));

/** Brings one message to its end (never throws); `parsed`: its envelope when already parsed. */
export interface MessageProcessor {
  (m: JsMsg, parsed?: EnvelopeParse): Promise<void>;
  /**
   * Ends a message its consumer pulled and never handed to the handler (still waiting when the pull
   * closed): a nak, so it comes back at once; at the server's last delivery (maxDeliver + 1), where a
   * nak would have JetStream drop it without a word, a dead letter naming `why` instead.
   */
  release(m: JsMsg, why: string): Promise<void>;
}

export function createMessageProcessor(d: ProcessorDeps): MessageProcessor {
  const log = d.logger;
  // The acks and naks of handlers that end in one turn of the event loop leave in one socket write.
  const barrier = new TurnBarrier();

  const deadLetter = async (m: JsMsg, reason: string): Promise<void> => {
    try {
      await publishDeadLetter(d.js, d.deadLetterSubject, m, d.durable, reason);
      // The reason travels in the dead letter's headers; nats-server 2.9 does not take `+TERM <reason>`.
      m.term();
      d.progress.finished(m.info.streamSequence);
      log.warn(
        { durable: d.durable, seq: m.info.streamSequence, subject: m.subject, reason, dlq: d.deadLetterSubject },
        'message dead-lettered',
      );
    } catch (e) {
      // Without a visible copy, never drop the message: let it come back later.
      log.error({ err: e, durable: d.durable, seq: m.info.streamSequence }, 'dead-lettering failed; will retry');
      m.nak(d.backoffMillis.at(-1) ?? 1000);
    }
  };

  const backoff = (deliveryCount: number): number => d.backoffMillis[Math.min(deliveryCount - 1, d.backoffMillis.length - 1)] ?? 0;

  const release = async (m: JsMsg, why: string): Promise<void> => {
    const count = m.info.deliveryCount;
    if (count <= d.maxDeliver) {
      m.nak();
      return;
    }
    await deadLetter(m, `delivery ${count} exceeds maxDeliver ${d.maxDeliver}: still waiting for its turn when ${why}`);
  };

  const processMessage = async (m: JsMsg, parsedBefore?: EnvelopeParse): Promise<void> => {
    const seq = m.info.streamSequence;
    const count = m.info.deliveryCount;
    d.progress.received(seq);
    if (count > d.maxDeliver) {
      return deadLetter(m, `delivery ${count} exceeds maxDeliver ${d.maxDeliver}: the handler never finished its last attempt`);
    }
    if (m.data.length > d.edge.maxEventBytes) {
      return deadLetter(m, `poison: oversized: ${m.data.length} bytes, this consumer takes at most ${d.edge.maxEventBytes}`);
    }
    const parsed = parsedBefore ?? parseEnvelope(m.data);
    if (!parsed.ok) return deadLetter(m, `poison: ${parsed.reason}`);
    const checked = checkEvent(d.edge, m.subject, parsed.envelope);
    if (!checked.ok) return deadLetter(m, `poison: ${checked.reason}`);
    const env = checked.envelope;

    const parent = m.headers ? extractTraceContext(m.headers) : ROOT_CONTEXT;
    let outcome: Outcome;
    try {
      outcome = await withSpan(
        `${m.subject} process`,
        async (span) => {
          const r = await d.handle(env, {
            working: () => m.working(),
            deliveryCount: count,
            subject: m.subject,
            streamSequence: seq,
            header: (name) => (m.headers?.has(name) ? m.headers.get(name) : undefined),
          });
          span.setAttribute('berth.consume.result', r.kind);
          return r;
        },
        {
          kind: SpanKind.CONSUMER,
          parent,
          attributes: {
            'messaging.system': 'nats',
            'messaging.operation.type': 'process',
            'messaging.destination.name': m.subject,
            'messaging.consumer.group.name': d.durable,
            'messaging.message.id': env.id,
            'messaging.message.delivery_count': count,
            'berth.event.type': env.type,
          },
        },
      );
    } catch (error) {
      outcome = { kind: 'error', error };
    }

    switch (outcome.kind) {
      case 'ack':
        await barrier.wait();
        // A plain ack, not a confirmed one (ackAck is a request per message: a reply subscription,
        // a timer and two error objects): handlers are idempotent (command ids), so an ack lost on
        // the way only means one more delivery, which appends nothing.
        m.ack();
        d.progress.finished(seq);
        return;
      case 'nak':
        if (count >= d.maxDeliver) return deadLetter(m, `nak on delivery ${count} of maxDeliver ${d.maxDeliver}`);
        await barrier.wait();
        m.nak(outcome.delayMillis);
        return;
      case 'term':
        return deadLetter(m, outcome.reason);
      case 'error':
        if (count >= d.maxDeliver) return deadLetter(m, `handler failed ${count} times, last error: ${message(outcome.error)}`);
        log.warn({ err: outcome.error, durable: d.durable, seq, deliveryCount: count }, 'handler failed; will redeliver');
        m.nak(backoff(count));
        return;
      default: {
        const never: never = outcome;
        throw new Error(`unknown consume result ${JSON.stringify(never)}`);
      }
    }
  };
  return Object.assign(processMessage, { release });
}
