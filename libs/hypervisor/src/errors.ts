/**
 * Hypervisor failures, classified once where they happen: `transient` (connection refused, timed
 * out, daemon restarting: retry with backoff), `not-found` (no such domain/volume), `permanent`
 * (the host refused the request: retrying the same host will not help).
 */
export type HypervisorErrorKind = 'transient' | 'permanent' | 'not-found';

export class HypervisorError extends Error {
  override readonly name = 'HypervisorError';
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
