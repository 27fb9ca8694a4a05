import { describe, expect, it } from 'vitest';
import { ConfigError } from '@berth/config';
import { loadSchedulerConfig } from './config.ts';

describe('scheduler config', () => {
  it('has working defaults', () => {
    const c = loadSchedulerConfig({});
    expect(c).toMatchObject({
      NATS_URL: 'nats://127.0.0.1:4222',
      INVENTORY_ADDR: '127.0.0.1:50051',
      SCHEDULER_GRPC_PORT: 50052,
      SCHEDULER_MAX_ATTEMPTS: 5,
      SCHEDULER_CLAIM_DEADLINE: 5000,
      SCHEDULER_POLICY: 'pack',
      SCHEDULER_POOL_POLICIES: {},
      SCHEDULER_PARALLELISM: 64,
    });
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('reads placement policies per resource pool', () => {
    const c = loadSchedulerConfig({ SCHEDULER_POLICY: 'spread', SCHEDULER_POOL_POLICIES: 'gpu=pack,batch=spread' });
    expect(c.SCHEDULER_POLICY).toBe('spread');
    expect(c.SCHEDULER_POOL_POLICIES).toEqual({ gpu: 'pack', batch: 'spread' });
  });

  it('bounds SCHEDULER_PARALLELISM, the VmRequested consumer concurrency, to 1..256', () => {
    expect(loadSchedulerConfig({ SCHEDULER_PARALLELISM: '1' }).SCHEDULER_PARALLELISM).toBe(1);
    expect(loadSchedulerConfig({ SCHEDULER_PARALLELISM: '256' }).SCHEDULER_PARALLELISM).toBe(256);
    for (const bad of ['0', '257', '1.5']) expect(() => loadSchedulerConfig({ SCHEDULER_PARALLELISM: bad })).toThrow(ConfigError);
  });

  it('names every offending variable', () => {
    let error: unknown;
    try {
      loadSchedulerConfig({
        SCHEDULER_GRPC_PORT: 'x',
        SCHEDULER_MAX_ATTEMPTS: '0',
        INVENTORY_ADDR: 'nohost',
        NATS_PREFIX: 'a b',
        SCHEDULER_POOL_POLICIES: 'gpu=fast',
      });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).problems.map((p) => p.variable).sort()).toEqual([
      'INVENTORY_ADDR',
      'NATS_PREFIX',
      'SCHEDULER_GRPC_PORT',
      'SCHEDULER_MAX_ATTEMPTS',
      'SCHEDULER_POOL_POLICIES',
    ]);
  });
});
