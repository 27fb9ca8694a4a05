import { ValidationError } from '@berth/errors';

export type OtlpProtocol = 'http/protobuf' | 'http/json' | 'grpc';
const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json', 'grpc'];

/**
 * The OTLP protocol of one signal: OTEL_EXPORTER_OTLP_<SIGNAL>_PROTOCOL, else OTEL_EXPORTER_OTLP_PROTOCOL,
 * else `http/protobuf` (the spec's default); an unknown value is a ValidationError naming the variable read.
 */
export function otlpProtocol(env: NodeJS.ProcessEnv, signal: 'TRACES' | 'METRICS'): OtlpProtocol {
  const specific = `OTEL_EXPORTER_OTLP_${signal}_PROTOCOL`;
  const field = env[specific] !== undefined ? specific : 'OTEL_EXPORTER_OTLP_PROTOCOL';
  const protocol = (env[field] ?? 'http/protobuf').trim();
  if (!(PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new ValidationError({ field, reason: `must be ${PROTOCOLS.slice(0, -1).join(', ')} or grpc, got "${protocol}"` });
  }
  return protocol as OtlpProtocol;
}
