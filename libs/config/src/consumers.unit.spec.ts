import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, consumerTuningShape, loadConfig } from './index.ts';

const schema = z.object({ ...consumerTuningShape });

describe('NATS_CONSUMER_TUNING', () => {
  it('is absent when unset, and reads durations and counts per durable', () => {
    expect(loadConfig(schema, {}).NATS_CONSUMER_TUNING).toBeUndefined();
    const t = loadConfig(schema, {
      NATS_CONSUMER_TUNING: JSON.stringify({
        'scheduler-vm-requested': { ackWait: '3s', maxDeliver: 3, backoff: ['200ms', '1s'], expires: '4s' },
        x: {},
      }),
    }).NATS_CONSUMER_TUNING;
    expect(t).toEqual({
      'scheduler-vm-requested': { ackWaitMillis: 3000, maxDeliver: 3, backoffMillis: [200, 1000], expiresMillis: 4000 },
      x: {},
    });
  });

  it.each([
    ['not json', /must be a JSON object/],
    ['[]', /keyed by durable name/],
    ['{"d":{"ackWait":"soon"}}', /NATS_CONSUMER_TUNING\.d\.ackWait/],
    ['{"d":{"ackWait":"10ms"}}', /must be >= 100ms/],
    ['{"d":{"maxDeliver":0}}', /NATS_CONSUMER_TUNING\.d\.maxDeliver: must be an integer >= 1/],
    ['{"d":{"backoff":[]}}', /NATS_CONSUMER_TUNING\.d\.backoff: must be a non-empty array/],
    ['{"d":{"ackwait":"1s"}}', /unknown keys ackwait/],
    ['{"d":{"expires":"500ms"}}', /NATS_CONSUMER_TUNING\.d\.expires: must be >= 1s/],
  ])('refuses %s, naming what is wrong', (text, reason) => {
    let problems: readonly { variable: string; reason: string }[] = [];
    try {
      loadConfig(schema, { NATS_CONSUMER_TUNING: text });
    } catch (e) {
      if (e instanceof ConfigError) problems = e.problems;
    }
    expect(problems.map((p) => p.variable)).toEqual(['NATS_CONSUMER_TUNING']);
    expect(problems[0]!.reason).toMatch(reason);
  });
});
