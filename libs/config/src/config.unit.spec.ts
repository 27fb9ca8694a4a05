import { describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { z } from 'zod';
import { ValidationError } from '@berth/errors';
import { ConfigError, loadConfig, parseBytes, parseDuration, SERVICE_NODE_FLAGS, zBytes, zDuration, zPort, zUrl } from './index.ts';

const schema = z.object({
  DATABASE_URL: zUrl(['postgres', 'postgresql']),
  NATS_URL: zUrl(['nats']).prefault('nats://127.0.0.1:4222'),
  INVENTORY_GRPC_PORT: zPort().prefault('50051'),
  POLL_INTERVAL: zDuration().prefault('5s'),
  MEMORY_RESERVE: zBytes(),
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

function problemsOf(fn: () => unknown): readonly { variable: string; reason: string }[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ConfigError) return e.problems;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('parses, applies defaults and freezes the result', () => {
    const config = loadConfig(schema, { DATABASE_URL: 'postgres://postgres@127.0.0.1/berth_inventory', MEMORY_RESERVE: '2 GiB' });
    expect(config).toEqual({
      DATABASE_URL: 'postgres://postgres@127.0.0.1/berth_inventory',
      NATS_URL: 'nats://127.0.0.1:4222',
      INVENTORY_GRPC_PORT: 50051,
      POLL_INTERVAL: 5000,
      MEMORY_RESERVE: 2 * 1024 ** 3,
      LOG_LEVEL: 'info',
    });
    expect(Object.isFrozen(config)).toBe(true);
    expect(() => {
      (config as { LOG_LEVEL: string }).LOG_LEVEL = 'debug';
    }).toThrow(TypeError);
  });

  it('names every offending variable, not only the first', () => {
    const problems = problemsOf(() =>
      loadConfig(schema, { NATS_URL: 'http://x', INVENTORY_GRPC_PORT: '70000', POLL_INTERVAL: 'soon', LOG_LEVEL: 'loud' }),
    );
    const byVar = new Map(problems.map((p) => [p.variable, p.reason]));
    expect([...byVar.keys()].sort()).toEqual(
      ['DATABASE_URL', 'INVENTORY_GRPC_PORT', 'LOG_LEVEL', 'MEMORY_RESERVE', 'NATS_URL', 'POLL_INTERVAL'].sort(),
    );
    expect(byVar.get('DATABASE_URL')).toBe('is required but not set');
    expect(byVar.get('MEMORY_RESERVE')).toBe('is required but not set');
    expect(byVar.get('NATS_URL')).toContain('scheme "http"');
    expect(byVar.get('INVENTORY_GRPC_PORT')).toContain('not a port');
    expect(byVar.get('POLL_INTERVAL')).toContain('"soon" is not a duration');
  });

  it('puts every problem in the message, one line per variable', () => {
    try {
      loadConfig(schema, { DATABASE_URL: 'nope' });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      const message = (e as ConfigError).message;
      expect(message).toMatch(/2 problems/);
      expect(message).toMatch(/DATABASE_URL: is not a URL/);
      expect(message).toMatch(/MEMORY_RESERVE: is required but not set/);
    }
  });

  it('treats an empty value as unset', () => {
    const problems = problemsOf(() => loadConfig(schema, { DATABASE_URL: '', MEMORY_RESERVE: '1G' }));
    expect(problems).toEqual([{ variable: 'DATABASE_URL', reason: 'is required but not set' }]);
  });
});

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['5s', 5000],
    ['2m', 120_000],
    ['1h', 3_600_000],
    ['1.5s', 1500],
    ['1h30m', 5_400_000],
    ['1m 30s', 90_000],
    [' 2S ', 2000],
    ['250', 250],
    ['1d', 86_400_000],
  ])('%s = %d ms', (text, millis) => {
    expect(parseDuration(text)).toBe(millis);
  });

  it.each(['', 'soon', '5 parsecs', '-5s', 's', '5s!'])('rejects %j naming the field', (text) => {
    expect(() => parseDuration(text, 'POLL_INTERVAL')).toThrow(ValidationError);
    try {
      parseDuration(text, 'POLL_INTERVAL');
    } catch (e) {
      expect((e as ValidationError).violations[0]?.field).toBe('POLL_INTERVAL');
    }
  });
});

describe('parseBytes', () => {
  it.each([
    ['32 GiB', 32 * 1024 ** 3],
    ['32 Gib', 32 * 1024 ** 3],
    ['64 MiB', 64 * 1024 ** 2],
    ['18GiB', 18 * 1024 ** 3],
    ['4 GB', 4_000_000_000],
    ['128gb', 128_000_000_000],
    ['12 MB', 12_000_000],
    ['1 KB', 1000],
    ['1 KiB', 1024],
    ['704G', 704 * 1024 ** 3],
    ['2Ti', 2 * 1024 ** 4],
    ['1.5 GiB', 1.5 * 1024 ** 3],
    ['0.3 KB', 300],
    ['1073741824', 1_073_741_824],
    ['512 B', 512],
  ])('%s = %d bytes', (text, bytes) => {
    expect(parseBytes(text)).toBe(bytes);
  });

  it('accepts a plain whole number', () => {
    expect(parseBytes(4096)).toBe(4096);
    expect(() => parseBytes(1.5)).toThrow(ValidationError);
  });

  it.each(['', 'lots', '32 GiBs', '1.5', '0.1 B', '-1 GiB', '99999999 PiB'])('rejects %j naming the field', (text) => {
    try {
      parseBytes(text, 'MEMORY_RESERVE');
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ValidationError);
      expect((e as ValidationError).violations[0]?.field).toBe('MEMORY_RESERVE');
    }
  });
});

describe('SERVICE_NODE_FLAGS', () => {
  it('are flags this Node starts with', () => {
    const r = spawnSync(process.execPath, [...SERVICE_NODE_FLAGS, '-e', 'process.exit(0)'], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
