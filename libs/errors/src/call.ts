/**
 * A call's bounds as the work done for it sees them (the gRPC kit's CallContext is one): its deadline
 * and a signal that fires at the deadline (reason DeadlineExceededError) or when the client cancels
 * (CancelledError). Applications pass it down to the event store, which stops a statement of an
 * ended call and keeps a queued command of one from being written.
 */
export interface CallDeadline {
  /** When the caller stops waiting; undefined when it set no deadline. */
  readonly deadline: Date | undefined;
  readonly signal: AbortSignal;
  /**
   * Why the call has ended, or undefined while it runs, as `callEnded` reads it from the signal —
   * for a call whose signal is made on first use (the gRPC kit's), without making it. Optional.
   */
  ended?(): Error | undefined;
  /**
   * Runs `fn` once when the call ends, as an 'abort' listener on `signal` would; returns what stops
   * watching. For a call whose signal is made on first use, without making it. Optional: without
   * it, watchers listen to `signal`.
   */
  onEnd?(fn: () => void): () => void;
}

/** The call's deadline passed before the work was done (DEADLINE_EXCEEDED); nothing was changed for it. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(method: string) {
    super(`deadline exceeded in ${method}`);
  }
}

/** The client cancelled the call before the work was done (CANCELLED); nothing was changed for it. */
export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(method: string) {
    super(`call to ${method} cancelled by the client`);
  }
}

/** Milliseconds left before the call's deadline (Infinity without one; 0 or less once it passed). */
export const millisLeft = (call: CallDeadline, now = Date.now()): number =>
  call.deadline === undefined ? Infinity : call.deadline.getTime() - now;

/**
 * Why the call has ended, or undefined while it runs: the signal's reason once it fired, else a
 * DeadlineExceededError when the deadline passed (a signal's timer may fire a little late).
 */
export function callEnded(call: CallDeadline | undefined, what: string): Error | undefined {
  if (call === undefined) return undefined;
  if (call.ended !== undefined) return call.ended();
  if (call.signal.aborted) {
    const reason: unknown = call.signal.reason;
    return reason instanceof Error ? reason : new CancelledError(what);
  }
  return millisLeft(call) <= 0 ? new DeadlineExceededError(what) : undefined;
}
