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
 *
 * The event store asks whether the call ended (`ended`) and watches it (`onEnd`) without the signal:
 * a ComposeVm's queued command, reads and statements watch their call, and an AbortController with a
 * deadline timer per call (each a timer list of its own: deadlines differ by the millisecond) was the
 * largest cost of a call after its decoding. A watcher hears of the end from the call's `cancelled`
 * event, which grpc-js emits when the client cancels and when it ends the call at its deadline (its own
 * deadline timer sends DEADLINE_EXCEEDED and closes the stream), and from the signal's timer once a
 * handler made it.
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
  /** `onEnd` watchers, run once when the call ends; undefined until the first. */
  #watchers: Set<() => void> | undefined;
  #notified = false;

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

  /** What `callEnded` would read from the signal, without making it. */
  ended(): Error | undefined {
    const controller = this.#controller;
    if (controller !== undefined) {
      if (controller.signal.aborted) {
        const reason: unknown = controller.signal.reason;
        return reason instanceof Error ? reason : new CancelledError(this.method);
      }
    } else if (this.#call.cancelled === true) return this.#cancelReason();
    return this.deadline !== undefined && Date.now() >= this.deadline.getTime() ? new DeadlineExceededError(this.method) : undefined;
  }

  /** Runs `fn` once when the call ends (client cancel, deadline), unless unwatched first; see the class comment. */
  onEnd(fn: () => void): () => void {
    if (this.#disposed || this.#notified) return noop;
    let watchers = this.#watchers;
    if (watchers === undefined) {
      watchers = this.#watchers = new Set();
      this.#call.once('cancelled', this.#onCancelled);
    }
    const set = watchers;
    set.add(fn);
    return () => void set.delete(fn);
  }

  readonly #onCancelled = (): void => this.#notify();

  /** As an event's dispatch: the watchers watching when the call ended, less any unwatched meanwhile. */
  #notify(): void {
    if (this.#notified) return;
    this.#notified = true;
    const watchers = this.#watchers;
    if (watchers === undefined) return;
    this.#watchers = undefined;
    this.#call.removeListener('cancelled', this.#onCancelled);
    for (const f of [...watchers]) {
      if (!watchers.delete(f)) continue;
      try {
        f();
      } catch (e) {
        queueMicrotask(() => {
          throw e;
        });
      }
    }
  }

  #arm(): AbortController {
    const controller = new AbortController();
    const remaining = this.deadline === undefined ? Infinity : this.deadline.getTime() - Date.now();
    if (this.#call.cancelled === true) controller.abort(this.#cancelReason());
    else if (remaining <= 0) controller.abort(new DeadlineExceededError(this.method));
    if (controller.signal.aborted || this.#disposed) return controller;
    const call = this.#call;
    const onCancel = (): void => {
      controller.abort(this.#cancelReason());
      this.#notify();
    };
    // Past setTimeout's range (~24.8 days) there is no timer: grpc-js cancels the call at its deadline.
    const timer =
      remaining <= MAX_TIMER_MILLIS
        ? setTimeout(() => {
            controller.abort(new DeadlineExceededError(this.method));
            this.#notify();
          }, remaining)
        : undefined;
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

  /** Clears the deadline timer and the cancel listeners, if a handler or a watcher ever made them. */
  dispose(): void {
    this.#disposed = true;
    this.#disarm?.();
    this.#disarm = undefined;
    if (this.#watchers !== undefined) {
      this.#watchers = undefined;
      this.#call.removeListener('cancelled', this.#onCancelled);
    }
  }
}

const noop = (): void => {};

/** Builds the context of one call; `dispose()` clears its deadline timer once the handler is done. */
export function createCallContext(call: ServerCall): CallContext & { dispose(): void } {
  return new ServerCallContext(call);
}
