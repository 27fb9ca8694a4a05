import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, consumerTuningShape, loadConfig, parseConsumerTuning } from './index.ts';

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

  it('names every problem at once, each as durable.key: reason', () => {
    let problems: readonly { variable: string; reason: string }[] = [];
    try {
      loadConfig(schema, {
        NATS_CONSUMER_TUNING: JSON.stringify({ a: { ackWait: 5, maxDeliver: 1.5 }, b: { backoff: ['1s', 'later'] }, c: 'fast' }),
      });
    } catch (e) {
      if (e instanceof ConfigError) problems = e.problems;
    }
    expect(problems.map((p) => p.reason)).toEqual([
      'NATS_CONSUMER_TUNING.a.ackWait: must be a duration string',
      'NATS_CONSUMER_TUNING.a.maxDeliver: must be an integer >= 1',
      expect.stringMatching(/^NATS_CONSUMER_TUNING\.b\.backoff\.1: expected a duration/),
      'NATS_CONSUMER_TUNING.c: must be an object of ackWait, maxDeliver, backoff, expires',
    ]);
  });

  it('parseConsumerTuning throws a ValidationError with one violation per problem', () => {
    let error: unknown;
    try {
      parseConsumerTuning('{"d":{"maxDeliver":2,"x":1}}');
    } catch (e) {
      error = e;
    }
    expect(error).toMatchObject({
      name: 'ValidationError',
      violations: [{ field: 'NATS_CONSUMER_TUNING.d', reason: 'unknown keys x (ackWait, maxDeliver, backoff, expires)' }],
    });
    expect(parseConsumerTuning('{"d":{"maxDeliver":2,"expires":"2s"}}')).toEqual({ d: { maxDeliver: 2, expiresMillis: 2000 } });
  });
});
