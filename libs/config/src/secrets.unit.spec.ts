import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, loadConfig, maskUrl, maskUrlsIn, zUrl } from './index.ts';

describe('maskUrl', () => {
  it('masks the password and keeps the rest', () => {
    expect(maskUrl('postgres://berth_inventory:s3cr%40t@db:5432/berth_inventory')).toBe(
      'postgres://berth_inventory:***@db:5432/berth_inventory',
    );
  });

  it('leaves a URL without password as it is', () => {
    expect(maskUrl('postgres://postgres@127.0.0.1:5432/postgres')).toBe('postgres://postgres@127.0.0.1:5432/postgres');
    expect(maskUrl('nats://127.0.0.1:4222')).toBe('nats://127.0.0.1:4222');
  });

  it('masks what the URL parser rejects too', () => {
    expect(maskUrl('postgres://u:p@ss w@rd@host/db')).not.toContain('p@ss');
    expect(maskUrl('postgres://u:pa@ss@host/db')).toBe('postgres://u:***@host/db');
  });
});

describe('maskUrlsIn', () => {
  it('masks every URL password inside a text', () => {
    const text = 'connect failed for postgres://a:one@h1/db and nats://svc:two@h2:4222, retrying';
    const masked = maskUrlsIn(text);
    expect(masked).toBe('connect failed for postgres://a:***@h1/db and nats://svc:***@h2:4222, retrying');
    expect(masked).not.toMatch(/one|two/);
  });
});

describe('config errors name the variable, not its value', () => {
  it('a DATABASE_URL that is not a URL: the error names DATABASE_URL and never contains the password', () => {
    const schema = z.object({ DATABASE_URL: zUrl(['postgres']) });
    const value = 'postgres//berth:hunter2-secret@db/berth'; // missing ':' after the scheme
    let error: unknown;
    try {
      loadConfig(schema, { DATABASE_URL: value });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const err = error as ConfigError;
    expect(err.problems.map((p) => p.variable)).toEqual(['DATABASE_URL']);
    expect(err.message).not.toContain('hunter2');
    expect(JSON.stringify(err.problems)).not.toContain('hunter2');
    expect(String(err.stack)).not.toContain('hunter2');
  });

  it('a URL of the wrong scheme: the error names the scheme, not the credentials', () => {
    const schema = z.object({ DATABASE_URL: zUrl(['postgres']) });
    try {
      loadConfig(schema, { DATABASE_URL: 'mysql://root:hunter2@db/x' });
      expect.unreachable();
    } catch (e) {
      expect((e as ConfigError).message).toMatch(/DATABASE_URL: scheme "mysql"/);
      expect((e as ConfigError).message).not.toContain('hunter2');
    }
  });
});
