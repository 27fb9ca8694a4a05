import { fromBinary } from '@bufbuild/protobuf';
import { FileDescriptorProtoSchema } from '@bufbuild/protobuf/wkt';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcReflectionV1, grpcReflectionV1alpha } from '@berth/contracts';
import { createClient } from './index.ts';
import { startEchoServer, type EchoServer } from './testing/echo-fixture.ts';

type Request = grpcReflectionV1.ServerReflectionRequest['messageRequest'];
type Response = grpcReflectionV1.ServerReflectionResponse;

/** A small reflection client: one bidi stream, one request, one answer. */
async function reflect(client: grpcReflectionV1.ServerReflectionClient, messageRequest: Request): Promise<Response['messageResponse']> {
  const stream = client.serverReflectionInfo();
  const answer = new Promise<Response>((resolve, reject) => {
    stream.once('data', resolve);
    stream.once('error', reject);
  });
  stream.write({ host: '', messageRequest });
  const response = await answer;
  stream.end();
  expect(response.originalRequest?.messageRequest).toEqual(messageRequest);
  return response.messageResponse;
}

function fileNames(answer: Response['messageResponse']): string[] {
  if (answer?.$case !== 'fileDescriptorResponse') throw new Error(`expected files, got ${JSON.stringify(answer)}`);
  return answer.value.fileDescriptorProto.map((bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name);
}

describe('server reflection from the buf image', () => {
  let echo: EchoServer;
  let v1: grpcReflectionV1.ServerReflectionClient;
  let v1alpha: grpcReflectionV1alpha.ServerReflectionClient;
  beforeAll(async () => {
    echo = await startEchoServer();
    v1 = createClient(grpcReflectionV1.ServerReflectionClient, echo.address);
    v1alpha = createClient(grpcReflectionV1alpha.ServerReflectionClient, echo.address);
  });
  afterAll(async () => {
    v1.close();
    v1alpha.close();
    await echo.close();
  });

  it('lists the registered services, health and reflection included', async () => {
    const answer = await reflect(v1, { $case: 'listServices', value: '' });
    expect(answer?.$case).toBe('listServicesResponse');
    const names = answer?.$case === 'listServicesResponse' ? answer.value.service.map((s) => s.name) : [];
    expect(names.sort()).toEqual([
      'berth.testing.v1.EchoService',
      'grpc.health.v1.Health',
      'grpc.reflection.v1.ServerReflection',
      'grpc.reflection.v1alpha.ServerReflection',
    ]);
  });

  it('resolves a service to its file and the files it imports', async () => {
    const names = fileNames(await reflect(v1, { $case: 'fileContainingSymbol', value: 'berth.testing.v1.EchoService' }));
    expect(names).toEqual(['berth/testing/v1/echo.proto', 'berth/common/v1/common.proto']);
  });

  it('resolves methods, nested messages and fields to their files', async () => {
    expect(fileNames(await reflect(v1, { $case: 'fileContainingSymbol', value: 'berth.testing.v1.EchoService.Echo' }))[0]).toBe(
      'berth/testing/v1/echo.proto',
    );
    expect(fileNames(await reflect(v1, { $case: 'fileContainingSymbol', value: 'berth.common.v1.CommandMeta' }))).toEqual([
      'berth/common/v1/common.proto',
    ]);
    expect(
      fileNames(await reflect(v1, { $case: 'fileContainingSymbol', value: 'grpc.health.v1.HealthCheckResponse.ServingStatus' })),
    ).toEqual(['grpc/health/v1/health.proto']);
  });

  it('answers FileByFilename with the file and its imports, and the decoded file is complete', async () => {
    const answer = await reflect(v1, { $case: 'fileByFilename', value: 'berth/testing/v1/echo.proto' });
    expect(fileNames(answer)).toEqual(['berth/testing/v1/echo.proto', 'berth/common/v1/common.proto']);
    const file = answer?.$case === 'fileDescriptorResponse' ? answer.value.fileDescriptorProto[0] : undefined;
    const echoFile = fromBinary(FileDescriptorProtoSchema, file!);
    expect(echoFile.dependency).toEqual(['berth/common/v1/common.proto']);
    expect(echoFile.service[0]?.method.map((m) => m.name)).toEqual(['Echo', 'EchoStream']);
  });

  it('serves v1alpha the same way', async () => {
    const answer = await reflect(v1alpha, { $case: 'fileContainingSymbol', value: 'berth.testing.v1.EchoService' });
    expect(answer?.$case).toBe('fileDescriptorResponse');
    const names =
      answer?.$case === 'fileDescriptorResponse'
        ? answer.value.fileDescriptorProto.map((b) => fromBinary(FileDescriptorProtoSchema, b).name)
        : [];
    expect(names).toEqual(['berth/testing/v1/echo.proto', 'berth/common/v1/common.proto']);
  });

  it('answers unknown symbols, files and types with NOT_FOUND', async () => {
    for (const request of [
      { $case: 'fileContainingSymbol', value: 'berth.nope.v1.Nope' },
      { $case: 'fileByFilename', value: 'nope.proto' },
      { $case: 'allExtensionNumbersOfType', value: 'berth.nope.v1.Nope' },
      { $case: 'fileContainingExtension', value: { containingType: 'berth.common.v1.CommandMeta', extensionNumber: 1000 } },
    ] as const) {
      const answer = await reflect(v1, request);
      expect(answer?.$case).toBe('errorResponse');
      expect(answer?.$case === 'errorResponse' ? answer.value.errorCode : -1).toBe(grpc.status.NOT_FOUND);
    }
  });

  it('answers extension numbers of a known type (none in Berth protos)', async () => {
    const answer = await reflect(v1, { $case: 'allExtensionNumbersOfType', value: 'berth.common.v1.CommandMeta' });
    expect(answer).toEqual({
      $case: 'allExtensionNumbersResponse',
      value: { baseTypeName: 'berth.common.v1.CommandMeta', extensionNumber: [] },
    });
  });
});

describe('without a descriptor set', () => {
  it('still serves, without reflection, and says why', async () => {
    const echo = await startEchoServer({ descriptorSet: '/nonexistent/descriptors.binpb' });
    try {
      expect(echo.server.services).toEqual(['berth.testing.v1.EchoService', 'grpc.health.v1.Health']);
      expect(echo.logger.entries.some((e) => e.level === 'warn' && e.msg?.includes('server reflection disabled'))).toBe(true);
      const client = createClient(grpcReflectionV1.ServerReflectionClient, echo.address);
      const stream = client.serverReflectionInfo();
      const err = await new Promise<grpc.ServiceError>((resolve) => stream.on('error', resolve).on('data', () => undefined));
      stream.end();
      client.close();
      expect(err.code).toBe(grpc.status.UNIMPLEMENTED);
    } finally {
      await echo.close();
    }
  });
});
