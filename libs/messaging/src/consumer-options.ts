import type { NatsConnection } from '@nats-io/transport-node';
import type { EventCatalog, EventEnvelope } from '@berth/contracts';
import { Violations } from '@berth/errors';
import type { Logger } from '@berth/observability';
import { checkPrefix } from './names.ts';
import type { ConsumeResult } from './results.ts';

/** What a consumer is asked to do (startConsumer in consumer.ts), what its handler sees, and the checks on both. */

export interface ConsumeContext {
  /** Tell the server the handler is still working, resetting the ack wait (call during long calls). */
  working(): void;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  readonly subject: string;
  readonly streamSequence: number;
  /** A header of the message (e.g. a dead letter's `Berth-Dlq-Reason`), undefined when absent. */
  header(name: string): string | undefined;
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

/** Checks the options before anything is created: every bad one is named in one ValidationError. */
export function validateConsumerOptions(o: ConsumerOptions): void {
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
