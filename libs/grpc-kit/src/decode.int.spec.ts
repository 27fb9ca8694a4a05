import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fieldViolationsOf } from './index.ts';
import { startEchoServer, type EchoServer } from './testing/echo-fixture.ts';

const identity = (b: Buffer): Buffer => b;

/** Sends `bytes` as the request of `path` and resolves with the error the server answers (or null). */
function raw(client: grpc.Client, path: string, bytes: number[], streaming: boolean): Promise<grpc.ServiceError | null> {
  const body = Buffer.from(bytes);
  const deadline = Date.now() + 5000;
  if (!streaming)
    return new Promise((resolve) =>
      client.makeUnaryRequest(path, identity, identity, body, new grpc.Metadata(), { deadline }, (err) => resolve(err)),
    );
  return new Promise((resolve) => {
    const call = client.makeServerStreamRequest(path, identity, identity, body, new grpc.Metadata(), { deadline });
    call.on('data', () => undefined);
    call.on('error', (e: grpc.ServiceError) => resolve(e));
    call.on('end', () => resolve(null));
  });
}

describe('requests whose bytes do not decode', () => {
  let echo: EchoServer;
  let client: grpc.Client;
  beforeAll(async () => {
    echo = await startEchoServer();
    client = new grpc.Client(echo.address, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    client.close();
    await echo.close();
  });

  // Seeds found by test/fuzz-grpc.e2e.spec.ts (grpc-js answered INTERNAL "Error deserializing request").
  it.each([
    ['a lone tag byte', [5]],
    ['an over-long varint', [255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1]],
    ['a length past the end', [10, 255, 255, 3]],
  ])('answer INVALID_ARGUMENT naming the request, unary and streaming: %s', async (_what, bytes) => {
    for (const [path, streaming] of [
      ['/berth.testing.v1.EchoService/Echo', false],
      ['/berth.testing.v1.EchoService/EchoStream', true],
    ] as const) {
      const err = await raw(client, path, bytes, streaming);
      expect(err?.code, path).toBe(grpc.status.INVALID_ARGUMENT);
      expect(fieldViolationsOf(err!)).toEqual([
        { field: 'request', reason: expect.stringMatching(/^cannot be decoded as protobuf: /) as string },
      ]);
    }
  });

  // Seed found by test/fuzz-grpc.e2e.spec.ts: `ListVms { state: "\0" }` failed in Postgres as INTERNAL.
  it('answers INVALID_ARGUMENT naming each string field that holds U+0000', async () => {
    // EchoRequest { message: "a\0" }
    const err = await raw(client, '/berth.testing.v1.EchoService/Echo', [18, 2, 97, 0], false);
    expect(err?.code).toBe(grpc.status.INVALID_ARGUMENT);
    expect(fieldViolationsOf(err!)).toEqual([{ field: 'message', reason: 'must not contain U+0000 (NUL)' }]);
  });

  it('still decodes valid requests', async () => {
    expect(await raw(client, '/berth.testing.v1.EchoService/Echo', [18, 2, 104, 105], false)).toBeNull();
  });
});
