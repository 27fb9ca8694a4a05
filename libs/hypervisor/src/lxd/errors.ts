import { HypervisorError, type HypervisorErrorKind } from '../errors.ts';
import { PinningError } from './tls.ts';

/** How LXD's failures map to the driver's error kinds (the executor's retry rules). */

/** Failures the daemon reports while busy or restarting: retrying later can succeed. */
const TRANSIENT_TEXT =
  /instance is busy|is busy running|database is locked|database is not ready|daemon is shutting down|connection refused|connection reset|i\/o timeout|context deadline exceeded|broken pipe|try again|temporarily/i;

/** Classifies an LXD error (HTTP status and message) for the executor's retry rules. */
export function classifyLxdError(status: number, message: string): HypervisorErrorKind {
  if (status === 404 || /^not found$|instance not found|storage volume not found|no such object/i.test(message)) return 'not-found';
  if (status === 502 || status === 503 || status === 504 || status === 429) return 'transient';
  if (TRANSIENT_TEXT.test(message)) return 'transient';
  return 'permanent';
}

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOENT',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EAI_AGAIN',
  'ENOTFOUND',
  'UND_ERR_SOCKET',
  'UND_ERR_CLOSED',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_HEADERS_TIMEOUT',
  'UND_ERR_BODY_TIMEOUT',
  'ABORT_ERR',
  'UND_ERR_ABORTED',
]);

function errorCode(e: unknown): string | undefined {
  for (let x: unknown = e; x instanceof Error; x = x.cause) {
    const code = (x as Error & { code?: unknown }).code;
    if (typeof code === 'string') return code;
    if (x.name === 'AbortError' || x.name === 'TimeoutError') return 'ABORT_ERR';
  }
  return undefined;
}

/** A failed request or websocket (network, TLS, pinning, abort) as a classified HypervisorError. */
export function lxdNetworkError(operation: string, uri: string, e: unknown): HypervisorError {
  if (e instanceof HypervisorError) return e;
  if (e instanceof PinningError || (e instanceof Error && e.cause instanceof PinningError)) {
    return new HypervisorError('permanent', operation, uri, e instanceof PinningError ? e.message : String((e.cause as Error).message));
  }
  const code = errorCode(e);
  const msg = e instanceof Error ? e.message : String(e);
  if (code !== undefined && NETWORK_CODES.has(code)) return new HypervisorError('transient', operation, uri, `${code}: ${msg}`);
  if (/certificate|self.signed|unable to verify|handshake/i.test(msg)) return new HypervisorError('permanent', operation, uri, msg);
  return new HypervisorError('transient', operation, uri, msg);
}
