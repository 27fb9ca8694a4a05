import type * as grpc from '@grpc/grpc-js';
import { ValidationError, type FieldViolation } from '@berth/errors';
import { toServiceError } from './errors.ts';
import type { Logger } from './logger.ts';

/**
 * A request the kit refuses before any handler reads it: its bytes did not decode (grpc-js would
 * answer INTERNAL "Error deserializing request", blaming the server for the client's bytes), or a
 * string in it holds U+0000, which no Berth identifier or name may contain and Postgres cannot store
 * (it failed deep in a query as INTERNAL). The kit's deserializer returns this instead of throwing,
 * and the handler's wrapper answers INVALID_ARGUMENT naming the field without calling the handler.
 */
export class RefusedRequest {
  constructor(readonly violations: readonly FieldViolation[]) {}
  toError(): ValidationError {
    return new ValidationError(this.violations);
  }
}

/** Paths of the strings holding U+0000 in a decoded (ts-proto) message, at most `max`. */
export function nulFields(value: unknown, path = '', out: string[] = [], max = 5): string[] {
  if (out.length >= max) return out;
  if (typeof value === 'string') {
    if (value.includes('\u0000')) out.push(path || '(request)');
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => nulFields(v, `${path}[${i}]`, out, max));
  } else if (typeof value === 'object' && value !== null && !(value instanceof Uint8Array)) {
    for (const [k, v] of Object.entries(value)) {
      if (typeof k === 'string' && k.includes('\u0000')) out.push(`${path}${path ? '.' : ''}(key)`);
      nulFields(v, path ? `${path}.${k}` : k, out, max);
    }
  }
  return out;
}

/** Whether any string or key in the decoded request holds a NUL: the walk of every request, building no paths. */
export function hasNul(value: unknown): boolean {
  if (typeof value === 'string') return value.includes('\u0000');
  if (typeof value !== 'object' || value === null || value instanceof Uint8Array) return false;
  if (Array.isArray(value)) {
    for (const v of value) if (hasNul(v)) return true;
    return false;
  }
  for (const k in value) {
    if (k.includes('\u0000') || hasNul((value as Record<string, unknown>)[k])) return true;
  }
  return false;
}

function decodeOrRefuse(decode: (bytes: Buffer) => unknown): (bytes: Buffer) => unknown {
  return (bytes) => {
    let request: unknown;
    try {
      request = decode(bytes);
    } catch (e) {
      return new RefusedRequest([
        { field: 'request', reason: `cannot be decoded as protobuf: ${e instanceof Error ? e.message : String(e)}` },
      ]);
    }
    if (!hasNul(request)) return request;
    const nul = nulFields(request);
    return nul.length === 0 ? request : new RefusedRequest(nul.map((field) => ({ field, reason: 'must not contain U+0000 (NUL)' })));
  };
}

/**
 * The service with deserializers that never throw (see RefusedRequest) and its unary and
 * server-streaming handlers wrapped to answer a RefusedRequest. Client-streaming methods keep
 * grpc-js' behaviour (Berth has none).
 */
export function refusingService(
  definition: grpc.ServiceDefinition,
  implementation: grpc.UntypedServiceImplementation,
  logger: Logger,
): { definition: grpc.ServiceDefinition; implementation: grpc.UntypedServiceImplementation } {
  const defs: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  const impl: grpc.UntypedServiceImplementation = { ...implementation };
  for (const [name, method] of Object.entries(definition)) {
    defs[name] = method;
    const fn = implementation[name];
    if (method.requestStream || fn === undefined) continue;
    defs[name] = { ...method, requestDeserialize: decodeOrRefuse(method.requestDeserialize) };
    impl[name] = method.responseStream
      ? (call: grpc.ServerWritableStream<unknown, unknown>) => {
          const request: unknown = call.request;
          if (!(request instanceof RefusedRequest)) return (fn as grpc.handleServerStreamingCall<unknown, unknown>)(call);
          const status = toServiceError(request.toError(), logger, method.path);
          call.emit('error', Object.assign(new Error(status.details), status));
        }
      : (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
          const request: unknown = call.request;
          if (!(request instanceof RefusedRequest)) return (fn as grpc.handleUnaryCall<unknown, unknown>)(call, callback);
          callback(toServiceError(request.toError(), logger, method.path));
        };
  }
  return { definition: defs, implementation: impl };
}
