import * as grpc from '@grpc/grpc-js';
import { googleRpc } from '@berth/contracts';
import {
  ConcurrencyError,
  describeQuotaViolation,
  IllegalStateError,
  NotFoundError,
  PermissionDeniedError,
  QuotaExceededError,
  ValidationError,
  CancelledError,
  DeadlineExceededError,
  millisLeft,
  type CallDeadline,
  type FieldViolation,
} from '@berth/errors';
import type { Logger } from './logger.ts';

/** Trailing metadata key holding the violations of an INVALID_ARGUMENT as UTF-8 JSON `[{field, reason}]`. */
export const FIELD_VIOLATIONS_KEY = 'berth-field-violations-bin';

// Codes a handler may pass through from a downstream call: they describe the call, not a bug here.
const PASS_THROUGH = new Set<grpc.status>([
  grpc.status.DEADLINE_EXCEEDED,
  grpc.status.CANCELLED,
  grpc.status.UNAVAILABLE,
  grpc.status.RESOURCE_EXHAUSTED,
]);

export interface MappedError {
  readonly code: grpc.status;
  readonly details: string;
  readonly metadata: grpc.Metadata;
}

/**
 * The one mapping from Berth's error taxonomy to gRPC status (STYLE.md §7). Anything unexpected
 * becomes INTERNAL with a generic message and is logged with the error, so internals never leak.
 */
export function toGrpcStatus(err: unknown, logger: Logger, method: string, call?: CallDeadline): MappedError {
  const metadata = new grpc.Metadata();
  const known = knownStatusOf(err, call);
  if (known === undefined) {
    logger.error({ err, method }, 'unhandled error in gRPC handler');
    return { code: grpc.status.INTERNAL, details: 'internal error', metadata };
  }
  if (err instanceof QuotaExceededError) metadata.set('grpc-status-details-bin', encodeQuotaFailureStatus(err));
  if (known.violations.length > 0) {
    metadata.set(FIELD_VIOLATIONS_KEY, Buffer.from(JSON.stringify(known.violations), 'utf8'));
    metadata.set('grpc-status-details-bin', encodeBadRequestStatus(known.details, known.violations));
  }
  return { code: known.code, details: known.details, metadata };
}

/**
 * The status an error of Berth's taxonomy maps to (the mapping toGrpcStatus applies), or undefined
 * for anything else: for answers that carry a status per item (a batch call), where an unexpected
 * error should fail the whole call as INTERNAL instead. `call` tells a statement Postgres cancelled
 * for the call's deadline from one cancelled for the client (see `cancelledStatementStatus`).
 */
export function knownStatusOf(
  err: unknown,
  call?: CallDeadline,
): { code: grpc.status; details: string; violations: readonly FieldViolation[] } | undefined {
  const status = (code: grpc.status, details: string, violations: readonly FieldViolation[] = []) => ({ code, details, violations });
  if (err instanceof ValidationError) return status(grpc.status.INVALID_ARGUMENT, err.message, err.violations);
  if (err instanceof NotFoundError) return status(grpc.status.NOT_FOUND, err.message);
  if (err instanceof IllegalStateError) return status(grpc.status.FAILED_PRECONDITION, err.message);
  if (err instanceof ConcurrencyError) return status(grpc.status.ABORTED, err.message);
  if (err instanceof QuotaExceededError) return status(grpc.status.RESOURCE_EXHAUSTED, err.message);
  if (err instanceof PermissionDeniedError) return status(grpc.status.PERMISSION_DENIED, err.message);
  if (err instanceof DeadlineExceededError) return status(grpc.status.DEADLINE_EXCEEDED, err.message);
  if (err instanceof CancelledError) return status(grpc.status.CANCELLED, err.message);
  if (isServiceError(err) && PASS_THROUGH.has(err.code)) return status(err.code, err.details);
  if (isQueryCanceled(err)) {
    const { code, details } = cancelledStatementStatus(call);
    return status(code, details);
  }
  const lost = connectionFailureOf(err);
  if (lost !== undefined) return status(grpc.status.UNAVAILABLE, `a dependency is unreachable, retry: ${lost}`);
  if (causes(err).some((e) => PG_RETRY_TRANSACTION.has(String((e as { code?: unknown }).code))))
    return status(grpc.status.ABORTED, 'the database aborted the transaction (serialization failure or deadlock), retry');
  return undefined;
}

// Socket errors, and Postgres' "connection exception" class (08), shutdown and start-up codes
// (57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: "the database system is
// starting up", "... in recovery mode", "... shutting down") and too_many_connections (53300: every
// service reconnecting at once after a restart).
const SOCKET_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
const PG_UNAVAILABLE = /^(08...|57P0[123]|53300)$/;
// node-postgres and pg-pool say these in words only. "Connection terminated" covers "... unexpectedly"
// (the server went away), "... due to connection timeout" and the bare form (a client ended, e.g. by
// the pool, while a statement waited on it).
const PG_CLIENT_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'timeout expired',
  'Query read timeout',
  'Client has encountered a connection error and is not queryable',
  'Client was closed and is not queryable',
  'Cannot use a pool after calling end on the pool',
];
// nats.js (v3) errors by name: the connection closed, draining (the process stops), lost, a request
// that timed out or found no responder (JetStream restarting), JetStream not (yet) enabled.
const NATS_UNAVAILABLE = new Set([
  'ClosedConnectionError',
  'DrainingConnectionError',
  'ConnectionError',
  'RequestError',
  'TimeoutError',
  'NoResponders',
  'JetStreamNotEnabled',
]);
/** serialization_failure, deadlock_detected: the transaction changed nothing and may be retried as it is. */
const PG_RETRY_TRANSACTION = new Set(['40001', '40P01']);

/** SQLSTATE query_canceled: a statement stopped by statement_timeout or by pg_cancel_backend. */
const PG_QUERY_CANCELED = '57014';

function isQueryCanceled(err: unknown): boolean {
  for (let e: unknown = err, depth = 0; e instanceof Error && depth < 4; e = e.cause, depth++) {
    if ((e as { code?: unknown }).code === PG_QUERY_CANCELED) return true;
  }
  return false;
}

/**
 * A statement Postgres cancelled (57014). The event store cancels a call's statement when the call
 * ends (its `statement_timeout` is the time left before the deadline, and a cancelled call's
 * statement is stopped with pg_cancel_backend): DEADLINE_EXCEEDED once the deadline passed,
 * CANCELLED when the client cancelled. A statement cancelled for no call of ours (a server-side
 * statement_timeout, an operator's pg_cancel_backend) changed nothing and is worth retrying:
 * UNAVAILABLE.
 */
export function cancelledStatementStatus(call: CallDeadline | undefined): { code: grpc.status; details: string } {
  const reason: unknown = call?.signal.aborted === true ? call.signal.reason : undefined;
  if (call !== undefined && (reason instanceof DeadlineExceededError || (!(reason instanceof CancelledError) && millisLeft(call) <= 0)))
    return { code: grpc.status.DEADLINE_EXCEEDED, details: 'deadline exceeded: the database statement was cancelled' };
  if (reason !== undefined) return { code: grpc.status.CANCELLED, details: 'call cancelled: the database statement was cancelled' };
  return { code: grpc.status.UNAVAILABLE, details: 'the database cancelled the statement, retry' };
}

/**
 * A failure to reach a dependency (Postgres or NATS down, restarting or shutting down, a socket
 * reset, refused or timed out) says nothing about the request: UNAVAILABLE, which clients retry
 * (with the same command id), not INTERNAL. Recognised from the error's code, name and message, so
 * grpc-kit needs neither database nor NATS driver.
 */
function connectionFailureOf(err: unknown): string | undefined {
  for (const e of causes(err)) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || PG_UNAVAILABLE.test(code))) return e.message;
    if (PG_CLIENT_MESSAGES.some((m) => e.message.startsWith(m))) return e.message;
    if (NATS_UNAVAILABLE.has(e.name)) return `${e.name}: ${e.message}`;
    if (e.name === 'JetStreamStatusError' && code === 503) return e.message;
  }
  return undefined;
}

/**
 * The error, its causes and, for an AggregateError (a connection tried on several addresses), the
 * errors it gathers, to a small depth.
 */
function causes(err: unknown, depth = 0): Error[] {
  if (!(err instanceof Error) || depth > 4) return [];
  const nested = err instanceof AggregateError ? (err.errors as unknown[]).flatMap((e) => causes(e, depth + 1)) : [];
  return [err, ...nested, ...causes(err.cause, depth + 1)];
}

export function toServiceError(err: unknown, logger: Logger, method: string, call?: CallDeadline): Partial<grpc.StatusObject> {
  return toGrpcStatus(err, logger, method, call);
}

export function isServiceError(err: unknown): err is grpc.ServiceError {
  return err instanceof Error && typeof (err as Partial<grpc.ServiceError>).code === 'number' && 'metadata' in err;
}

/** Client side: the field violations of an INVALID_ARGUMENT answer (empty for any other error). */
export function fieldViolationsOf(err: unknown): FieldViolation[] {
  if (!isServiceError(err) || err.code !== grpc.status.INVALID_ARGUMENT) return [];
  const [raw] = err.metadata.get(FIELD_VIOLATIONS_KEY);
  if (!Buffer.isBuffer(raw)) return [];
  const parsed: unknown = JSON.parse(raw.toString('utf8'));
  return Array.isArray(parsed) ? (parsed as FieldViolation[]) : [];
}

/**
 * google.rpc.Status { code, message, details: [Any(google.rpc.BadRequest)] }, so standard tooling
 * (grpcurl, other languages) sees the field violations without Berth's JSON key.
 */
function encodeBadRequestStatus(message: string, violations: readonly FieldViolation[]): Buffer {
  const badRequest = googleRpc.BadRequest.encode({
    fieldViolations: violations.map((v) => ({ field: v.field, description: v.reason })),
  }).finish();
  const status = googleRpc.Status.encode({
    code: grpc.status.INVALID_ARGUMENT,
    message,
    details: [{ typeUrl: 'type.googleapis.com/google.rpc.BadRequest', value: Buffer.from(badRequest) }],
  }).finish();
  return Buffer.from(status);
}

/** google.rpc.Status { RESOURCE_EXHAUSTED, details: [Any(google.rpc.QuotaFailure)] }: each limit passed, with its figures. */
function encodeQuotaFailureStatus(err: QuotaExceededError): Buffer {
  const failure = googleRpc.QuotaFailure.encode({
    violations: err.violations.map((v) => ({ subject: v.subject, description: describeQuotaViolation(v) })),
  }).finish();
  const status = googleRpc.Status.encode({
    code: grpc.status.RESOURCE_EXHAUSTED,
    message: err.message,
    details: [{ typeUrl: 'type.googleapis.com/google.rpc.QuotaFailure', value: Buffer.from(failure) }],
  }).finish();
  return Buffer.from(status);
}
