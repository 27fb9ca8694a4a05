import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger } from './logger.ts';
import { startObservability, type Observability } from './sdk.ts';
import { withSpan } from './spans.ts';

function capture(): { lines: string[]; sink: Writable } {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, sink };
}

describe('secrets never reach a log line', () => {
  it('masks the password of a URL in a logged config, in the message and in printf arguments', () => {
    const { lines, sink } = capture();
    const log = createLogger('redact', { destination: sink });
    log.info(
      { config: { DATABASE_URL: 'postgres://berth_inventory:hunter2@db:5432/berth_inventory', NATS_URL: 'nats://127.0.0.1:4222' } },
      'config',
    );
    log.info('connecting to postgres://berth:hunter3@db/x');
    log.warn('retrying %s', 'nats://svc:hunter4@nats:4222');
    const text = lines.join('');
    expect(text).not.toMatch(/hunter[234]/);
    const first = JSON.parse(lines[0]!) as { config: Record<string, string> };
    expect(first.config).toEqual({
      DATABASE_URL: 'postgres://berth_inventory:***@db:5432/berth_inventory',
      NATS_URL: 'nats://127.0.0.1:4222',
    });
    expect(JSON.parse(lines[1]!)).toMatchObject({ msg: 'connecting to postgres://berth:***@db/x' });
    expect(JSON.parse(lines[2]!)).toMatchObject({ msg: 'retrying nats://svc:***@nats:4222' });
  });

  it('replaces the values of secret-named keys, top level and one level down', () => {
    const { lines, sink } = capture();
    const log = createLogger('redact', { destination: sink });
    log.info(
      { token: 'tok-1', nats: { seed: 'SUAEXAMPLESEED', user: 'berth-inventory' }, headers: { authorization: 'Bearer abc' } },
      'auth',
    );
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    expect(line).toMatchObject({ token: '***', nats: { seed: '***', user: 'berth-inventory' }, headers: { authorization: '***' } });
    expect(lines[0]).not.toMatch(/tok-1|SUAEXAMPLESEED|Bearer abc/);
  });

  it("masks an error's message and stack", () => {
    const { lines, sink } = capture();
    const log = createLogger('redact', { destination: sink });
    log.error({ err: new Error('connect failed: postgres://berth:hunter5@db/x') }, 'start failed');
    const line = JSON.parse(lines[0]!) as { err: { message: string; stack: string } };
    expect(line.err.message).toBe('connect failed: postgres://berth:***@db/x');
    expect(line.err.stack).toContain('postgres://berth:***@db/x');
    expect(lines[0]).not.toContain('hunter5');
  });
});

describe('secrets never reach a trace', () => {
  let obs: Observability;
  beforeAll(() => {
    obs = startObservability({ serviceName: 'redact-test', exporter: 'memory', instrumentations: false });
  });
  afterAll(async () => {
    await obs.shutdown();
  });

  it("masks a URL password in a failed span's status, its attributes and the recorded exception", async () => {
    await expect(
      withSpan('connecting', (span) => {
        span.setAttribute('db.url', 'postgres://berth:hunter6@db/x');
        throw new Error('no route to postgres://berth:hunter6@db/x');
      }),
    ).rejects.toThrow();
    await obs.flush();
    const span = obs.memoryExporter!.getFinishedSpans().find((s) => s.name === 'connecting');
    expect(span).toBeDefined();
    expect(span!.status.message).toBe('no route to postgres://berth:***@db/x');
    expect(span!.attributes['db.url']).toBe('postgres://berth:***@db/x');
    expect(span!.events.length).toBeGreaterThan(0);
    expect(JSON.stringify({ status: span!.status, attributes: span!.attributes, events: span!.events })).not.toContain('hunter6');
  });
});
