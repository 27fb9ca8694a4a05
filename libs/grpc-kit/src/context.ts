import type * as grpc from '@grpc/grpc-js';
import { CancelledError, DeadlineExceededError, type CallDeadline } from '@berth/errors';
import { callerOf, type Caller } from './identity.ts';

export { CancelledError, DeadlineExceededError };

/** What a handler knows about its call besides the request. */
export interface CallContext extends CallDeadline {
  /** Full method path, e.g. `/berth.inventory.v1.InventoryService/ClaimResources`. */
  readonly method: string;
  /** The caller's deadline, or undefined when it set none. Pass `ctx` to `callUnary` to propagate it. */
  readonly deadline: Date | undefined;
  /** Fires at the deadline or when the client cancels; `signal.reason` is a DeadlineExceededError or CancelledError. */
  readonly signal: AbortSignal;
  readonly metadata: grpc.Metadata;
  readonly peer: string;
  /** Who is calling (see `callerOf`): the identity in the client certificate, or the loopback caller on plaintext. */
  readonly caller: Caller;
}

const MAX_TIMER_MILLIS = 2 ** 31 - 1;

type ServerCall = (grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>) & { readonly cancelled?: boolean };

/**
 * The context of one call. Most handlers never look at `signal` or `peer`, so both are made on first
 * use: the AbortController, the deadline timer and the `cancelled` listener cost nothing until a
 * handler asks. A signal asked for after the deadline passed or the client cancelled is aborted at
 * once, with the reason it would have carried.
 */
class ServerCallContext implements CallContext {
  readonly method: string;
  readonly deadline: Date | undefined;
  readonly metadata: grpc.Metadata;
  readonly #call: ServerCall;
  #controller: AbortController | undefined;
  /** Clears the timer and listener `#arm` made. */
  #disarm: (() => void) | undefined;
  #disposed = false;
  #caller: Caller | undefined;

  constructor(call: ServerCall) {
    this.#call = call;
    this.method = call.getPath();
    this.metadata = call.metadata;
    const raw = call.getDeadline();
    const deadlineMillis = raw instanceof Date ? raw.getTime() : raw;
    this.deadline = Number.isFinite(deadlineMillis) ? new Date(deadlineMillis) : undefined;
  }

  get peer(): string {
    return this.#call.getPeer();
  }

  get caller(): Caller {
    return (this.#caller ??= callerOf(this.#call));
  }

  get signal(): AbortSignal {
    return (this.#controller ??= this.#arm()).signal;
  }

  #arm(): AbortController {
    const controller = new AbortController();
    const remaining = this.deadline === undefined ? Infinity : this.deadline.getTime() - Date.now();
    if (this.#call.cancelled === true) controller.abort(this.#cancelReason());
    else if (remaining <= 0) controller.abort(new DeadlineExceededError(this.method));
    if (controller.signal.aborted || this.#disposed) return controller;
    const call = this.#call;
    const onCancel = (): void => controller.abort(this.#cancelReason());
    // Past setTimeout's range (~24.8 days) there is no timer: grpc-js cancels the call at its deadline.
    const timer =
      remaining <= MAX_TIMER_MILLIS ? setTimeout(() => controller.abort(new DeadlineExceededError(this.method)), remaining) : undefined;
    call.once('cancelled', onCancel);
    this.#disarm = () => {
      clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    };
    return controller;
  }

  // grpc-js also cancels the call when the deadline passes; report that as what it is.
  #cancelReason(): Error {
    const expired = this.deadline !== undefined && Date.now() >= this.deadline.getTime();
    return expired ? new DeadlineExceededError(this.method) : new CancelledError(this.method);
  }

  /** Clears the deadline timer and the cancel listener, if a handler ever made them. */
  dispose(): void {
    this.#disposed = true;
    this.#disarm?.();
    this.#disarm = undefined;
  }
}

/** Builds the context of one call; `dispose()` clears its deadline timer once the handler is done. */
export function createCallContext(call: ServerCall): CallContext & { dispose(): void } {
  return new ServerCallContext(call);
}
