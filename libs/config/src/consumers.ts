import { z } from 'zod';
import { ValidationError } from '@berth/errors';
import { readDuration } from './units/duration.ts';

/** What a deployment (or a test) may change of a durable consumer's settings (infra/nats/consumers.json). */
export interface ConsumerTuning {
  readonly ackWaitMillis?: number;
  readonly maxDeliver?: number;
  readonly backoffMillis?: readonly number[];
  /** How long each pull request of the consumer lasts on the server (startConsumer's expiresMillis). */
  readonly expiresMillis?: number;
}

const VAR = 'NATS_CONSUMER_TUNING';
const FIELDS = 'ackWait, maxDeliver, backoff, expires';

/** A duration string (`3s`, `200ms`) as milliseconds, at least `min` (written as `minText`). */
const duration = (min: number, minText: string) =>
  z.string('must be a duration string').transform((text, ctx) => {
    const d = readDuration(text);
    if (!d.ok) ctx.addIssue({ code: 'custom', message: d.reason });
    else if (d.value < min) ctx.addIssue({ code: 'custom', message: `must be >= ${minText}` });
    return d.ok ? d.value : z.NEVER;
  });

const durableTuning = z
  .strictObject(
    {
      ackWait: duration(100, '100ms').optional(),
      maxDeliver: z.number('must be an integer >= 1').int('must be an integer >= 1').min(1, 'must be an integer >= 1').optional(),
      backoff: z
        .array(duration(0, '0ms'), 'must be a non-empty array of duration strings')
        .min(1, 'must be a non-empty array of duration strings')
        .optional(),
      expires: duration(1000, '1s').optional(),
    },
    {
      error: (issue) =>
        issue.code === 'unrecognized_keys' ? `unknown keys ${issue.keys.join(', ')} (${FIELDS})` : `must be an object of ${FIELDS}`,
    },
  )
  .transform((t): ConsumerTuning => ({
    ...(t.ackWait !== undefined && { ackWaitMillis: t.ackWait }),
    ...(t.maxDeliver !== undefined && { maxDeliver: t.maxDeliver }),
    ...(t.backoff !== undefined && { backoffMillis: t.backoff }),
    ...(t.expires !== undefined && { expiresMillis: t.expires }),
  }));

const tuningByDurable = z.record(z.string(), durableTuning, 'must be a JSON object keyed by durable name');

/**
 * `{"<durable>": {"ackWait": "3s", "maxDeliver": 3, "backoff": ["200ms", "1s"], "expires": "5s"}}` → tuning
 * per durable. Throws a ValidationError naming every problem as `NATS_CONSUMER_TUNING.<durable>.<key>: reason`.
 */
export function parseConsumerTuning(text: string): Readonly<Record<string, ConsumerTuning>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ValidationError({ field: VAR, reason: 'must be a JSON object' });
  }
  const r = tuningByDurable.safeParse(json);
  if (r.success) return r.data;
  throw new ValidationError(r.error.issues.map((i) => ({ field: [VAR, ...i.path.map(String)].join('.'), reason: i.message })));
}

/**
 * The consumer tuning variable the services with durable consumers read: settings of named durables
 * over infra/nats/consumers.json (shorter ack waits and backoffs in tests, longer ones in a slow
 * deployment). Spread into a service's schema; pass the result to `consumerDefinition` of @berth/messaging.
 */
export const consumerTuningShape = {
  NATS_CONSUMER_TUNING: z
    .string()
    .transform((text, ctx): Readonly<Record<string, ConsumerTuning>> => {
      try {
        return parseConsumerTuning(text);
      } catch (e) {
        const violations = e instanceof ValidationError ? e.violations : [{ field: VAR, reason: String(e) }];
        for (const v of violations) ctx.addIssue({ code: 'custom', message: `${v.field}: ${v.reason}` });
        return z.NEVER;
      }
    })
    .optional(),
};
