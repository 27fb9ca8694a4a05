/**
 * Hypervisor failures, classified once where they happen: `transient` (connection refused, timed
 * out, daemon restarting: retry with backoff), `not-found` (no such domain/volume), `permanent`
 * (the host refused the request: retrying the same host will not help).
 */
export type HypervisorErrorKind = 'transient' | 'permanent' | 'not-found';

export class HypervisorError extends Error {
  override readonly name: string = 'HypervisorError';
  constructor(
    readonly kind: HypervisorErrorKind,
    readonly operation: string,
    readonly uri: string,
    message: string,
  ) {
    super(`${operation} on ${uri}: ${message}`);
  }
  get transient(): boolean {
    return this.kind === 'transient';
  }
}

export const isHypervisorError = (e: unknown): e is HypervisorError => e instanceof HypervisorError;

/** True when retrying the same call later may succeed. Unknown errors count as transient. */
export function isTransient(e: unknown): boolean {
  return e instanceof HypervisorError ? e.kind === 'transient' : true;
}

/**
 * How a pre-copy migration failed: `aborted` (asked for: `domjobabort`, the signal, a timeout
 * counted as `failed-transient`), `failed-transient` (the connection or the destination failed
 * mid-way: another attempt, on this or another destination, may succeed), `failed-permanent` (the
 * destination refused the domain, or it cannot migrate at all). In every case the domain still
 * runs on the source. `kind` follows: transient for `failed-transient`, `not-found` when the domain
 * is not on the source, else permanent.
 */
export type MigrationFailure = 'aborted' | 'failed-transient' | 'failed-permanent';

export class MigrationError extends HypervisorError {
  override readonly name: string = 'MigrationError';
  constructor(
    readonly failure: MigrationFailure,
    uri: string,
    message: string,
    kind: HypervisorErrorKind = failure === 'failed-transient' ? 'transient' : 'permanent',
  ) {
    super(kind, 'migrate', uri, message);
  }
}

export const isMigrationError = (e: unknown): e is MigrationError => e instanceof MigrationError;
