import { HypervisorError, MigrationError, type HypervisorErrorKind, type MigrationFailure } from '../errors.ts';

/**
 * What travels between a simulator daemon (`serveSimulator`, remote-server.ts) and its clients
 * (`RemoteSimulator`, remote-client.ts): JSON over HTTP/1.1, on a unix socket or a TCP port.
 *
 *   POST /v1/call       { host, method, args }      -> { result } | { error }   (one driver call)
 *   POST /v1/migrate    { host, vmId, opts, callId } -> NDJSON: { progress }* then { result } | { error }
 *   POST /v1/abort      { callId }                   -> {}   (the migrate call's signal fired)
 *   GET  /v1/events?host=H                          -> NDJSON of lifecycle events, until closed
 *   POST /v1/telemetry  { host, method, args }      -> { result } | { error }   (the memory model)
 *   POST /v1/fleet      { method, args }            -> { result } | { error }   (fault injection, hosts)
 */

/** A hypervisor failure as it travels. */
export interface WireError {
  readonly name: string;
  readonly message: string;
  readonly kind?: HypervisorErrorKind;
  readonly operation?: string;
  readonly uri?: string;
  readonly failure?: MigrationFailure;
}

export function toWireError(e: unknown): WireError {
  if (e instanceof HypervisorError) {
    const prefix = `${e.operation} on ${e.uri}: `;
    const detail = e.message.startsWith(prefix) ? e.message.slice(prefix.length) : e.message;
    return {
      name: e.name,
      message: detail,
      kind: e.kind,
      operation: e.operation,
      uri: e.uri,
      ...(e instanceof MigrationError && { failure: e.failure }),
    };
  }
  return { name: 'Error', message: e instanceof Error ? e.message : String(e) };
}

/** The error the daemon raised, rebuilt as the same class (a MigrationError stays one). */
export function fromWireError(w: WireError): Error {
  if (w.failure !== undefined && w.uri !== undefined) return new MigrationError(w.failure, w.uri, w.message, w.kind);
  if (w.kind !== undefined && w.operation !== undefined && w.uri !== undefined)
    return new HypervisorError(w.kind, w.operation, w.uri, w.message);
  return new Error(w.message);
}

/** The driver methods a client may call through /v1/call (migrate has its own route). */
export const DRIVER_CALLS = [
  'defineAndStart',
  'createVolumes',
  'define',
  'stop',
  'start',
  'reboot',
  'destroy',
  'undefine',
  'copyVolumes',
  'state',
  'listDomains',
  'hostFacts',
  'memoryStats',
  'setBalloonTarget',
  'abortMigration',
  'resumePostCopy',
  'migrationJob',
] as const;
export type DriverCall = (typeof DRIVER_CALLS)[number];

/** The memory model's calls through /v1/telemetry. */
export const TELEMETRY_CALLS = ['sample', 'setKsm', 'setCpuTune', 'setIoTune'] as const;
export type TelemetryCall = (typeof TELEMETRY_CALLS)[number];

/** The fleet's own calls through /v1/fleet (hosts, fault injection, workloads). */
export const FLEET_CALLS = [
  'addHost',
  'injectFailure',
  'clearFailures',
  'injectMigrationFailure',
  'releaseStall',
  'stalled',
  'setDirtyRate',
  'setState',
  'volumes',
  'setWorkload',
  'setHostReserved',
] as const;
export type FleetCall = (typeof FLEET_CALLS)[number];
