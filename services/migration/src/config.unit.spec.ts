import { describe, expect, it } from 'vitest';
import { ConfigError } from '@berth/config';
import { loadMigrationConfig } from './config.ts';

const problems = (value: string): readonly string[] => {
  try {
    loadMigrationConfig({ MIGRATION_POOL_POLICIES: value });
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.variable}: ${p.reason}`);
    throw e;
  }
  return [];
};

describe('MIGRATION_POOL_POLICIES', () => {
  it('reads a JSON object of pool -> policy; unset is none', () => {
    expect(loadMigrationConfig({}).MIGRATION_POOL_POLICIES).toEqual({});
    const c = loadMigrationConfig({
      MIGRATION_POOL_POLICIES:
        '{"gold":{"maxDowntimeMillis":200,"postCopy":true,"noProgressTimeoutSeconds":60},"default":{"maxAttempts":1}}',
    });
    expect(c.MIGRATION_POOL_POLICIES).toEqual({
      gold: { maxDowntimeMillis: 200, postCopy: true, noProgressTimeoutSeconds: 60 },
      default: { maxAttempts: 1 },
    });
  });

  it('a bad value fails start-up naming the variable, the pool and the field, every problem at once', () => {
    expect(problems('{"gold":{"postCopy":"yes","maxAttempts":0,"bandwith":5},"a b":{}}')).toEqual([
      'MIGRATION_POOL_POLICIES: gold.postCopy: must be true or false',
      'MIGRATION_POOL_POLICIES: gold.maxAttempts: must be >= 1',
      expect.stringMatching(/^MIGRATION_POOL_POLICIES: gold: Unrecognized key: "bandwith"/),
      'MIGRATION_POOL_POLICIES: pool "a b": a pool name is 1-128 of [A-Za-z0-9_.-]',
    ]);
    expect(problems('{"gold":{"noProgressTimeoutSeconds":1.5}}')).toEqual([
      'MIGRATION_POOL_POLICIES: gold.noProgressTimeoutSeconds: must be a whole number',
    ]);
    expect(problems('not json')).toEqual([expect.stringMatching(/^MIGRATION_POOL_POLICIES: not JSON: /)]);
    expect(problems('[1]')).toEqual(['MIGRATION_POOL_POLICIES: must be a JSON object of pool name -> policy']);
  });
});
