import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ValidationError } from '@berth/errors';
import { testingV1 } from '@berth/contracts';
import { callServerStream, callUnary, createClient, createGrpcServer, InsecureBindError, readTlsFiles } from './index.ts';
import { makePki, type Pki } from './testing/certs.ts';
import { errorOf, recordingLogger, startEchoServer, type EchoServer } from './testing/echo-fixture.ts';

/** Echo for anyone with a Berth identity, the stream for operators only. */
const ECHO_POLICY = {
  'berth.testing.v1.EchoService/Echo': ['authenticated'],
  'berth.testing.v1.EchoService/EchoStream': ['operator'],
} as const;

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const m of stream) out.push(m);
  return out;
}

describe('mutual TLS', () => {
  let pki: Pki;
  let echo: EchoServer;
  beforeAll(async () => {
    pki = makePki();
    echo = await startEchoServer({ tls: { ...pki.server, ca: pki.ca, requireClientCert: true }, policy: ECHO_POLICY });
  });
  afterAll(async () => {
    await echo.close();
    pki.remove();
  });

  const request = { message: 'over tls', delayMillis: 0 };

  it('accepts a client with a certificate signed by the trusted CA', async () => {
    const client = echo.client({ tls: { ca: pki.ca, ...pki.client } });
    await expect(callUnary(client, 'echo', request)).resolves.toMatchObject({ message: 'over tls' });
  });

  it('accepts a client configured from PEM files', async () => {
    const files = readTlsFiles({
      certFile: join(pki.dir, 'client.crt'),
      keyFile: join(pki.dir, 'client.key'),
      caFile: join(pki.dir, 'berth-test-ca.crt'),
    });
    const client = echo.client({ tls: files });
    await expect(callUnary(client, 'echo', request)).resolves.toMatchObject({ message: 'over tls' });
  });

  it('rejects a client that presents no certificate', async () => {
    const client = echo.client({ tls: { ca: pki.ca } });
    const err = await errorOf(callUnary(client, 'echo', request, { deadline: Date.now() + 5000 }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(echo.observed.deadlines).toHaveLength(2);
  });

  it('rejects a client whose certificate another CA signed', async () => {
    const client = echo.client({ tls: { ca: pki.ca, ...pki.rogueClient } });
    const err = await errorOf(callUnary(client, 'echo', request, { deadline: Date.now() + 5000 }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('rejects a plaintext client', async () => {
    const client = echo.client();
    const err = await errorOf(callUnary(client, 'echo', request, { deadline: Date.now() + 5000 }));
    expect(err.code).toBe(grpc.status.UNAVAILABLE);
    expect(echo.observed.deadlines).toHaveLength(2);
  });

  it('gives the handler the identity of the client certificate; a certificate without one is UNAUTHENTICATED', async () => {
    const acme = echo.client({ tls: { ca: pki.ca, ...pki.acmeClient } });
    const plain = echo.client({ tls: { ca: pki.ca, ...pki.noIdentity } });
    const before = echo.observed.callers.length;
    await callUnary(acme, 'echo', request);
    const err = await errorOf(callUnary(plain, 'echo', request));
    expect(err.code).toBe(grpc.status.UNAUTHENTICATED);
    expect(err.details).toMatch(/no Berth identity/);
    expect(echo.observed.callers.slice(before)).toEqual([{ identity: 'spiffe://berth/client/acme', kind: 'client', name: 'acme' }]);
  });

  it('refuses a caller the policy does not admit with PERMISSION_DENIED before any handler runs', async () => {
    const acme = echo.client({ tls: { ca: pki.ca, ...pki.acmeClient } });
    const alice = echo.client({ tls: { ca: pki.ca, ...pki.aliceOperator } });
    const before = echo.observed.callers.length;
    const denied = await errorOf(collect(callServerStream(acme, 'echoStream', { message: 'x', count: 2 })));
    expect(denied.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(denied.details).toMatch(/spiffe:\/\/berth\/client\/acme may not call berth\.testing\.v1\.EchoService\/EchoStream/);
    expect(echo.observed.callers.length).toBe(before);
    await expect(collect(callServerStream(alice, 'echoStream', { message: 'x', count: 2 }))).resolves.toHaveLength(2);
    expect(echo.logger.entries.some((e) => e.msg === 'gRPC call refused' && e.obj['caller'] === 'spiffe://berth/client/acme')).toBe(true);
  });

  it('refuses to listen on a non-loopback address without mutual TLS, naming the variables', async () => {
    const oneWay = createGrpcServer({
      serviceName: 'echo',
      services: [],
      readiness: async () => true,
      logger: recordingLogger(),
      tls: pki.server,
    });
    const plain = createGrpcServer({ serviceName: 'echo', services: [], readiness: async () => true, logger: recordingLogger() });
    for (const server of [oneWay, plain]) {
      await expect(server.listen(0, '0.0.0.0')).rejects.toThrow(InsecureBindError);
      await expect(server.listen(0, '0.0.0.0')).rejects.toThrow(/BERTH_TLS_CERT, BERTH_TLS_KEY and BERTH_TLS_CA/);
    }
    const mutual = await startEchoServer({
      tls: { ...pki.server, ca: pki.ca, requireClientCert: true },
      host: '0.0.0.0',
      policy: ECHO_POLICY,
    });
    try {
      const client = createClient(testingV1.EchoServiceClient, `127.0.0.1:${mutual.port}`, { tls: { ca: pki.ca, ...pki.acmeClient } });
      await expect(callUnary(client, 'echo', request)).resolves.toMatchObject({ message: 'over tls' });
      client.close();
    } finally {
      await mutual.close();
    }
  });

  it('refuses mutual TLS without a CA, naming the field', () => {
    const make = (): unknown =>
      createGrpcServer({
        serviceName: 'x',
        services: [],
        readiness: async () => true,
        logger: recordingLogger(),
        tls: { ...pki.server, requireClientCert: true },
      });
    expect(make).toThrow(ValidationError);
    expect(make).toThrow(/tls\.ca: is required/);
  });

  it('reads unreadable PEM files as a ValidationError naming the field', () => {
    expect(() => readTlsFiles({ caFile: join(pki.dir, 'nope.crt') })).toThrow(/caFile: cannot read/);
  });

  it('server TLS without client certificates still serves clients that trust its CA', async () => {
    const oneWay = await startEchoServer({ tls: pki.server });
    try {
      const byName = createClient(testingV1.EchoServiceClient, `localhost:${oneWay.port}`, { tls: { ca: pki.ca } });
      const byIp = createClient(testingV1.EchoServiceClient, `127.0.0.1:${oneWay.port}`, { tls: { ca: pki.ca, serverName: 'localhost' } });
      try {
        await expect(callUnary(byName, 'echo', request)).resolves.toMatchObject({ message: 'over tls' });
        await expect(callUnary(byIp, 'echo', request)).resolves.toMatchObject({ message: 'over tls' });
      } finally {
        byName.close();
        byIp.close();
      }
    } finally {
      await oneWay.close();
    }
  });
});
