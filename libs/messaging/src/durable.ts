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
  /**
   * When set (servers >= 2.10), the durable filters on these subjects (`filter_subjects`) instead of
   * `filterSubject`: it receives only what its handler wants.
   */
  readonly filterSubjects?: readonly string[];
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
 * Creates the durable pull consumer, or updates its settings when they differ. `resumeFrom` is
 * used only when the consumer has to be created again after it was deleted: delivery restarts at
 * that stream sequence (what this process had not finished), rather than from the start of the stream.
 */
export async function ensureDurable(jsm: JetStreamManager, spec: DurableSpec, resumeFrom?: number): Promise<DurableOutcome> {
  const filter: Partial<ConsumerConfig> =
    spec.filterSubjects === undefined
      ? { filter_subject: spec.filterSubject, filter_subjects: undefined }
      : // The other one cleared: an update merges into the stored config, and the two may not both be set.
        { filter_subjects: [...spec.filterSubjects], filter_subject: undefined };
  const want = {
    ack_wait: nanos(spec.ackWaitMillis),
    max_deliver: spec.serverMaxDeliver,
    max_ack_pending: spec.maxAckPending,
    ...filter,
  } satisfies Partial<ConsumerConfig>;
  const existing = await info(jsm, spec.stream, spec.durable);
  if (existing === undefined) {
    const start: Partial<ConsumerConfig> =
      resumeFrom === undefined
        ? { deliver_policy: DeliverPolicy.All }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: resumeFrom };
    await jsm.consumers.add(spec.stream, { durable_name: spec.durable, ack_policy: AckPolicy.Explicit, ...start, ...want });
    return 'created';
  }
  const c = existing.config;
  const sameFilter =
    spec.filterSubjects === undefined
      ? c.filter_subject === spec.filterSubject && (c.filter_subjects ?? []).length === 0
      : !c.filter_subject && JSON.stringify(c.filter_subjects ?? []) === JSON.stringify(spec.filterSubjects);
  if (c.ack_wait === want.ack_wait && c.max_deliver === want.max_deliver && c.max_ack_pending === want.max_ack_pending && sameFilter) {
    return 'unchanged';
  }
  await jsm.consumers.update(spec.stream, spec.durable, want);
  return 'updated';
}
