import { z } from 'zod';
import { ValidationError } from '@berth/errors';
import { parseDuration } from './units/duration.ts';

/** What a deployment (or a test) may change of a durable consumer's settings (infra/nats/consumers.json). */
export interface ConsumerTuning {
  readonly ackWaitMillis?: number;
  readonly maxDeliver?: number;
  readonly backoffMillis?: readonly number[];
  /** How long each pull request of the consumer lasts on the server (startConsumer's expiresMillis). */
  readonly expiresMillis?: number;
}

const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * `{"<durable>": {"ackWait": "3s", "maxDeliver": 3, "backoff": ["200ms", "1s"], "expires": "5s"}}` → tuning
 * per durable (throws ValidationError).
 */
export function parseConsumerTuning(text: string): Readonly<Record<string, ConsumerTuning>> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new ValidationError({ field: 'NATS_CONSUMER_TUNING', reason: 'must be a JSON object' });
  }
  if (!isObj(json)) throw new ValidationError({ field: 'NATS_CONSUMER_TUNING', reason: 'must be a JSON object keyed by durable name' });
  const out: Record<string, ConsumerTuning> = {};
  for (const [durable, v] of Object.entries(json)) {
    const field = `NATS_CONSUMER_TUNING.${durable}`;
    if (!isObj(v)) throw new ValidationError({ field, reason: 'must be an object of ackWait, maxDeliver, backoff, expires' });
    const unknown = Object.keys(v).filter((k) => !['ackWait', 'maxDeliver', 'backoff', 'expires'].includes(k));
    if (unknown.length > 0)
      throw new ValidationError({ field, reason: `unknown keys ${unknown.join(', ')} (ackWait, maxDeliver, backoff, expires)` });
    const t: { ackWaitMillis?: number; maxDeliver?: number; backoffMillis?: number[]; expiresMillis?: number } = {};
    if (v['ackWait'] !== undefined) {
      if (typeof v['ackWait'] !== 'string') throw new ValidationError({ field: `${field}.ackWait`, reason: 'must be a duration string' });
      t.ackWaitMillis = parseDuration(v['ackWait'], `${field}.ackWait`);
      if (t.ackWaitMillis < 100) throw new ValidationError({ field: `${field}.ackWait`, reason: 'must be >= 100ms' });
    }
    if (v['expires'] !== undefined) {
      if (typeof v['expires'] !== 'string') throw new ValidationError({ field: `${field}.expires`, reason: 'must be a duration string' });
      t.expiresMillis = parseDuration(v['expires'], `${field}.expires`);
      if (t.expiresMillis < 1000) throw new ValidationError({ field: `${field}.expires`, reason: 'must be >= 1s' });
    }
    if (v['maxDeliver'] !== undefined) {
      const n = v['maxDeliver'];
      if (typeof n !== 'number' || !Number.isInteger(n) || n < 1)
        throw new ValidationError({ field: `${field}.maxDeliver`, reason: 'must be an integer >= 1' });
      t.maxDeliver = n;
    }
    if (v['backoff'] !== undefined) {
      const b = v['backoff'];
      if (!Array.isArray(b) || b.length === 0 || !b.every((x) => typeof x === 'string'))
        throw new ValidationError({ field: `${field}.backoff`, reason: 'must be a non-empty array of duration strings' });
      t.backoffMillis = b.map((x: string) => parseDuration(x, `${field}.backoff`));
    }
    out[durable] = t;
  }
  return out;
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
        ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
        return z.NEVER;
      }
    })
    .optional(),
};
