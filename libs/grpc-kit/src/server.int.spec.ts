import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { googleRpc, grpcHealthV1, testingV1 } from '@berth/contracts';
import { callServerStream, callUnary, createClient, fieldViolationsOf, FIELD_VIOLATIONS_KEY } from './index.ts';
import { errorOf, startEchoServer, type EchoServer } from './testing/echo-fixture.ts';

const { SERVING, NOT_SERVING, SERVICE_UNKNOWN } = grpcHealthV1.HealthCheckResponse_ServingStatus;

function healthClient(echo: EchoServer): grpcHealthV1.HealthClient {
  return createClient(grpcHealthV1.HealthClient, echo.address, { deadlineMillis: 5000 });
}

/** Reads the next message of a stream (or rejects when the stream ends or fails first). */
function nextMessage<T>(stream: grpc.ClientReadableStream<T>): Promise<T> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      stream.off('data', onData);
      stream.off('error', onError);
      stream.off('end', onEnd);
    };
    const onData = (m: T): void => (cleanup(), resolve(m));
    const onError = (e: Error): void => (cleanup(), reject(e));
    const onEnd = (): void => (cleanup(), reject(new Error('stream ended')));
    stream.on('data', onData).on('error', onError).on('end', onEnd);
  });
}

/** Cancels a client stream; grpc-js reports that as an error event, which is expected here. */
function cancel(stream: grpc.ClientReadableStream<unknown>): void {
  stream.on('error', () => undefined);
  stream.cancel();
}

describe('error mapping', () => {
  let echo: EchoServer;
  let client: testingV1.EchoServiceClient;
  beforeAll(async () => {
    echo = await startEchoServer();
    client = echo.client();
  });
  afterAll(() => echo.close());

  it('a plaintext call on loopback is the loopback caller (authentication off)', async () => {
    const before = echo.observed.callers.length;
    await callUnary(client, 'echo', { message: 'who', delayMillis: 0 });
    expect(echo.observed.callers.slice(before)).toEqual([{ identity: 'loopback', kind: 'operator', name: 'loopback' }]);
  });

  it('answers a successful call', async () => {
    await expect(callUnary(client, 'echo', { message: 'hi', delayMillis: 0 })).resolves.toMatchObject({ message: 'hi' });
  });

  it('maps ValidationError to INVALID_ARGUMENT with field and reason in details and metadata', async () => {
    const err = await errorOf(callUnary(client, 'echo', { message: 'invalid', delayMillis: 0 }));
    expect(err.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(err.details).toBe('message: must not be "invalid"; meta.commandId: is required – ünïcode too');
    expect(fieldViolationsOf(err)).toEqual([
      { field: 'message', reason: 'must not be "invalid"' },
      { field: 'meta.commandId', reason: 'is required – ünïcode too' },
    ]);
    expect(err.metadata.get(FIELD_VIOLATIONS_KEY)).toHaveLength(1);
    // google.rpc.Status carrying a BadRequest, for tools that know nothing of Berth's key.
    const [details] = err.metadata.get('grpc-status-details-bin');
    expect(Buffer.isBuffer(details)).toBe(true);
    expect((details as Buffer).toString('latin1')).toContain('type.googleapis.com/google.rpc.BadRequest');
    expect((details as Buffer).includes(Buffer.from('meta.commandId'))).toBe(true);
    const status = googleRpc.Status.decode(details as Buffer);
    expect(status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, message: err.details });
    expect(status.details.map((d) => d.typeUrl)).toEqual(['type.googleapis.com/google.rpc.BadRequest']);
    expect(googleRpc.BadRequest.decode(status.details[0]!.value).fieldViolations).toEqual([
      { field: 'message', description: 'must not be "invalid"' },
      { field: 'meta.commandId', description: 'is required – ünïcode too' },
    ]);
  });

  it.each([
    ['missing', grpc.status.NOT_FOUND, 'Echo e-1 not found'],
    ['illegal', grpc.status.FAILED_PRECONDITION, 'echo is stopped'],
    ['conflict', grpc.status.ABORTED, 'stream echo-1: expected version 3, found 4'],
  ])('maps %s to status %i', async (message, code, details) => {
    const err = await errorOf(callUnary(client, 'echo', { message, delayMillis: 0 }));
    expect(err.code).toBe(code);
    expect(err.details).toBe(details);
    expect(fieldViolationsOf(err)).toEqual([]);
  });

  it('maps anything else to INTERNAL with a generic message and logs the error', async () => {
    const err = await errorOf(callUnary(client, 'echo', { message: 'boom', delayMillis: 0 }));
    expect(err.code).toBe(grpc.status.INTERNAL);
    expect(err.details).toBe('internal error');
    const logged = echo.logger.entries.find((e) => e.level === 'error');
    expect(logged?.obj['method']).toBe('/berth.testing.v1.EchoService/Echo');
    expect(String(logged?.obj['err'])).toContain('postgres://secret@db');
  });

  it('streams messages and maps an error thrown mid-stream', async () => {
    const ok: number[] = [];
    for await (const m of callServerStream(client, 'echoStream', { message: 'x', count: 3 })) ok.push(m.index);
    expect(ok).toEqual([0, 1, 2]);

    const got: number[] = [];
    const err = await errorOf(
      (async () => {
        for await (const m of callServerStream(client, 'echoStream', { message: 'fail-midway', count: 5 })) got.push(m.index);
      })(),
    );
    expect(got).toEqual([0, 1]);
    expect(err.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(err.details).toBe('stream broke at 2');
  });

  it('leaving a stream early cancels it without an unhandled error', async () => {
    const got: number[] = [];
    for await (const m of callServerStream(client, 'echoStream', { message: 'x', count: 1000 })) {
      got.push(m.index);
      if (got.length === 2) break;
    }
    expect(got).toEqual([0, 1]);
  });
});

describe('health', () => {
  it('reports real readiness per service and overall, and NOT_FOUND for unknown services', async () => {
    let ready = true;
    const echo = await startEchoServer({ readiness: async () => ready });
    const health = healthClient(echo);
    try {
      expect(await callUnary(health, 'check', { service: '' })).toEqual({ status: SERVING });
      expect(await callUnary(health, 'check', { service: 'berth.testing.v1.EchoService' })).toEqual({ status: SERVING });
      ready = false;
      expect(await callUnary(health, 'check', { service: '' })).toEqual({ status: NOT_SERVING });
      expect(await callUnary(health, 'check', { service: 'berth.testing.v1.EchoService' })).toEqual({ status: NOT_SERVING });
      const unknown = await errorOf(callUnary(health, 'check', { service: 'berth.nope.v1.Nope' }));
      expect(unknown.code).toBe(grpc.status.NOT_FOUND);
      const list = await callUnary(health, 'list', {});
      expect(Object.keys(list.statuses).sort()).toEqual(['', 'berth.testing.v1.EchoService', 'grpc.health.v1.Health']);
    } finally {
      health.close();
      await echo.close();
    }
  });

  it('treats a failing or hanging readiness check as NOT_SERVING', async () => {
    let mode: 'throw' | 'hang' = 'throw';
    const echo = await startEchoServer({
      readinessTimeoutMillis: 100,
      readiness: () => (mode === 'throw' ? Promise.reject(new Error('db down')) : new Promise<boolean>(() => undefined)),
    });
    const health = healthClient(echo);
    try {
      expect(await callUnary(health, 'check', { service: '' })).toEqual({ status: NOT_SERVING });
      expect(echo.logger.entries.some((e) => e.level === 'warn' && String(e.obj['err']).includes('db down'))).toBe(true);
      mode = 'hang';
      expect(await callUnary(health, 'check', { service: '' })).toEqual({ status: NOT_SERVING });
    } finally {
      health.close();
      await echo.close();
    }
  });

  it('Watch sends the current status, then every change', async () => {
    let ready = true;
    const echo = await startEchoServer({ readiness: async () => ready, healthPollMillis: 20 });
    const health = healthClient(echo);
    try {
      const stream = health.watch({ service: '' });
      expect(await nextMessage(stream)).toEqual({ status: SERVING });
      ready = false;
      expect(await nextMessage(stream)).toEqual({ status: NOT_SERVING });
      ready = true;
      expect(await nextMessage(stream)).toEqual({ status: SERVING });
      cancel(stream);
      const unknown = health.watch({ service: 'berth.nope.v1.Nope' });
      expect(await nextMessage(unknown)).toEqual({ status: SERVICE_UNKNOWN });
      cancel(unknown);
    } finally {
      health.close();
      await echo.close();
    }
  });

  it('answers NOT_SERVING while draining, then stops accepting calls', async () => {
    const echo = await startEchoServer({ readiness: async () => true });
    const health = healthClient(echo);
    const client = echo.client();
    try {
      const watch = health.watch({ service: 'berth.testing.v1.EchoService' });
      expect(await nextMessage(watch)).toEqual({ status: SERVING });
      const stopped = echo.server.shutdown(400);
      expect(await nextMessage(watch)).toEqual({ status: NOT_SERVING });
      // Still serving during the grace period: health says so, and calls still work.
      expect(await callUnary(health, 'check', { service: '' })).toEqual({ status: NOT_SERVING });
      expect(await callUnary(client, 'echo', { message: 'still here', delayMillis: 0 })).toMatchObject({ message: 'still here' });
      await stopped;
      const after = await errorOf(callUnary(client, 'echo', { message: 'late', delayMillis: 0 }, { deadline: Date.now() + 2000 }));
      expect(after.code).toBe(grpc.status.UNAVAILABLE);
    } finally {
      health.close();
      await echo.close();
    }
  });
});
