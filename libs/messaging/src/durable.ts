import { nanos } from '@nats-io/transport-node';
import {
  AckPolicy,
  DeliverPolicy,
  JetStreamApiError,
  type ConsumerConfig,
  type ConsumerInfo,
  type JetStreamManager,
} from '@nats-io/jetstream';

const CONSUMER_NOT_FOUND = 10014;

export interface DurableSpec {
  readonly stream: string;
  readonly durable: string;
  readonly filterSubject: string;
  /** Server-side max_deliver (the consumer's maxDeliver + 1, see consumer.ts). */
  readonly serverMaxDeliver: number;
  readonly ackWaitMillis: number;
  readonly maxAckPending: number;
}

export type DurableOutcome = 'created' | 'updated' | 'unchanged';

async function info(jsm: JetStreamManager, stream: string, durable: string): Promise<ConsumerInfo | undefined> {
  try {
    return await jsm.consumers.info(stream, durable);
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === CONSUMER_NOT_FOUND) return undefined;
    throw e;
  }
}

/**
 * Creates the durable pull consumer, or updates its settings when they differ. `resumeAfter` is
 * used only when the consumer has to be created again after it was deleted: delivery restarts after
 * the last stream sequence this process finished, rather than from the start of the stream.
 */
export async function ensureDurable(jsm: JetStreamManager, spec: DurableSpec, resumeFrom?: number): Promise<DurableOutcome> {
  const want = {
    ack_wait: nanos(spec.ackWaitMillis),
    max_deliver: spec.serverMaxDeliver,
    max_ack_pending: spec.maxAckPending,
    filter_subject: spec.filterSubject,
  } satisfies Partial<ConsumerConfig>;
  const existing = await info(jsm, spec.stream, spec.durable);
  if (existing === undefined) {
    const start: Partial<ConsumerConfig> =
      resumeFrom === undefined ? { deliver_policy: DeliverPolicy.All } : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: resumeFrom };
    await jsm.consumers.add(spec.stream, { durable_name: spec.durable, ack_policy: AckPolicy.Explicit, ...start, ...want });
    return 'created';
  }
  const c = existing.config;
  if (c.ack_wait === want.ack_wait && c.max_deliver === want.max_deliver && c.max_ack_pending === want.max_ack_pending && c.filter_subject === want.filter_subject) {
    return 'unchanged';
  }
  await jsm.consumers.update(spec.stream, spec.durable, want);
  return 'updated';
}
