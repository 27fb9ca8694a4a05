import type * as grpc from '@grpc/grpc-js';

/** What a handler knows about its call besides the request. */
export interface CallContext {
  /** Full method path, e.g. `/berth.inventory.v1.InventoryService/ClaimResources`. */
  readonly method: string;
  /** The caller's deadline, or undefined when it set none. Pass `ctx` to `callUnary` to propagate it. */
  readonly deadline: Date | undefined;
  /** Fires at the deadline or when the client cancels; `signal.reason` is a DeadlineExceededError or CancelledError. */
  readonly signal: AbortSignal;
  readonly metadata: grpc.Metadata;
  readonly peer: string;
}

export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(method: string) {
    super(`deadline exceeded in ${method}`);
  }
}

export class CancelledError extends Error {
  override readonly name = 'CancelledError';
  constructor(method: string) {
    super(`call to ${method} cancelled by the client`);
  }
}

type ServerCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerWritableStream<unknown, unknown>;

/** Builds the context of one call; `dispose()` clears its deadline timer once the handler is done. */
export function createCallContext(call: ServerCall): CallContext & { dispose(): void } {
  const method = call.getPath();
  const raw = call.getDeadline();
  const deadlineMillis = raw instanceof Date ? raw.getTime() : raw;
  const deadline = Number.isFinite(deadlineMillis) ? new Date(deadlineMillis) : undefined;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  if (deadline) {
    const abortAtDeadline = (): void => controller.abort(new DeadlineExceededError(method));
    const remaining = deadline.getTime() - Date.now();
    if (remaining <= 0) abortAtDeadline();
    else timer = setTimeout(abortAtDeadline, remaining);
  }
  const onCancel = (): void => {
    // grpc-js also cancels the call when the deadline passes; report that as what it is.
    const expired = deadline !== undefined && Date.now() >= deadline.getTime();
    controller.abort(expired ? new DeadlineExceededError(method) : new CancelledError(method));
  };
  call.once('cancelled', onCancel);
  return {
    method,
    deadline,
    signal: controller.signal,
    metadata: call.metadata,
    peer: call.getPeer(),
    dispose: () => {
      if (timer) clearTimeout(timer);
      call.removeListener('cancelled', onCancel);
    },
  };
}
