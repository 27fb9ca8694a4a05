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
  if (call.signal.aborted) {
    const reason: unknown = call.signal.reason;
    return reason instanceof Error ? reason : new CancelledError(what);
  }
  return millisLeft(call) <= 0 ? new DeadlineExceededError(what) : undefined;
}
