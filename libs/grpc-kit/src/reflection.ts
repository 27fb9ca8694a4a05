import * as grpc from '@grpc/grpc-js';
import type { grpcReflectionV1 } from '@berth/contracts';
import type { DescriptorIndex } from './descriptors.ts';

type Request = grpcReflectionV1.ServerReflectionRequest;
type Response = grpcReflectionV1.ServerReflectionResponse;
type Answer = NonNullable<Response['messageResponse']>;

/**
 * grpc.reflection.v1 / v1alpha ServerReflectionInfo, answered from the buf image. The two versions
 * share their message layout, so one handler serves both definitions.
 *
 * Why not the maintained @grpc/reflection: checked again with 1.0.4 fed this buf image (through
 * @grpc/proto-loader's loadFileDescriptorSetFromBuffer), it still drops imports. For
 * `berth.inventory.v1.InventoryService` it answered inventory_service.proto and common.proto only,
 * leaving out the claim, hardware_config, host and vm files the service imports, and every file it
 * sent had an empty `dependency` list, so grpcurl cannot resolve the request and response types.
 * This handler answers with buf's own bytes for the file and all of its transitive imports.
 */
export function reflectionHandler(index: DescriptorIndex, services: readonly string[]): grpc.handleBidiStreamingCall<Request, Response> {
  return (call) => {
    call.on('data', (request: Request) => {
      call.write({ validHost: request.host, originalRequest: request, messageResponse: answer(index, services, request) });
    });
    call.on('end', () => call.end());
    call.on('error', () => call.end());
  };
}

function answer(index: DescriptorIndex, services: readonly string[], request: Request): Answer {
  const files = (name: string | undefined, what: string): Answer => {
    const found = name === undefined ? undefined : index.fileWithDependencies(name);
    return found ? { $case: 'fileDescriptorResponse', value: { fileDescriptorProto: found } } : notFound(what);
  };
  const req = request.messageRequest;
  switch (req?.$case) {
    case 'fileByFilename':
      return files(req.value, `file "${req.value}" not found`);
    case 'fileContainingSymbol':
      return files(index.fileContainingSymbol(req.value), `symbol "${req.value}" not found`);
    case 'fileContainingExtension': {
      const { containingType, extensionNumber } = req.value;
      return files(
        index.fileContainingExtension(containingType, extensionNumber),
        `extension ${extensionNumber} of "${containingType}" not found`,
      );
    }
    case 'allExtensionNumbersOfType':
      return index.hasType(req.value)
        ? {
            $case: 'allExtensionNumbersResponse',
            value: { baseTypeName: req.value, extensionNumber: index.extensionNumbersOf(req.value) },
          }
        : notFound(`type "${req.value}" not found`);
    case 'listServices':
      return { $case: 'listServicesResponse', value: { service: services.map((name) => ({ name })) } };
    case undefined:
      return { $case: 'errorResponse', value: { errorCode: grpc.status.INVALID_ARGUMENT, errorMessage: 'empty reflection request' } };
  }
}

const notFound = (message: string): Answer => ({
  $case: 'errorResponse',
  value: { errorCode: grpc.status.NOT_FOUND, errorMessage: message },
});
