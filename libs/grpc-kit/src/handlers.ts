import type * as grpc from '@grpc/grpc-js';
import { createCallContext, type CallContext } from './context.ts';
import { toServiceError } from './errors.ts';
import { stderrLogger, type Logger } from './logger.ts';

/** Lets `createGrpcServer` rebuild a wrapped handler with the server's logger. */
export const BIND_LOGGER: unique symbol = Symbol('berth.grpc-kit.bindLogger');

export type Bindable<H> = H & { readonly [BIND_LOGGER]: (logger: Logger) => H };

export function isBindable(fn: unknown): fn is Bindable<grpc.UntypedHandleCall> {
  return typeof fn === 'function' && BIND_LOGGER in fn;
}

function bindable<H extends object>(make: (logger: Logger) => H): Bindable<H> {
  return Object.assign(make(stderrLogger), { [BIND_LOGGER]: make });
}

/**
 * Wraps an async unary handler: gives it a CallContext (deadline, abort signal) and maps whatever
 * it throws through the one error mapping. Handlers decode, call the application, encode — nothing else.
 */
export function unary<Req, Res>(handler: (request: Req, ctx: CallContext) => Promise<Res>): grpc.handleUnaryCall<Req, Res> {
  return bindable<grpc.handleUnaryCall<Req, Res>>((logger) => (call, callback) => {
    const ctx = createCallContext(call);
    handler(call.request, ctx).then(
      (response) => {
        ctx.dispose();
        callback(null, response);
      },
      (err: unknown) => {
        ctx.dispose();
        callback(toServiceError(err, logger, ctx.method, ctx));
      },
    );
  });
}

/**
 * Wraps a server-streaming handler written as an async generator: each yielded message is written
 * (awaiting back-pressure), the stream ends when the generator returns, and a throw is mapped once.
 */
export function serverStream<Req, Res>(
  handler: (request: Req, ctx: CallContext) => AsyncIterable<Res>,
): grpc.handleServerStreamingCall<Req, Res> {
  return bindable<grpc.handleServerStreamingCall<Req, Res>>((logger) => (call) => {
    const ctx = createCallContext(call);
    const run = async (): Promise<void> => {
      for await (const message of handler(call.request, ctx)) {
        if (ctx.signal.aborted) throw ctx.signal.reason;
        if (!call.write(message)) await waitForDrain(call, ctx.signal);
      }
    };
    run().then(
      () => {
        ctx.dispose();
        call.end();
      },
      (err: unknown) => {
        ctx.dispose();
        // grpc-js turns an 'error' event on a server stream into the final status.
        const status = toServiceError(err, logger, ctx.method, ctx);
        call.emit('error', Object.assign(new Error(status.details), status));
      },
    );
  });
}

function waitForDrain(call: grpc.ServerWritableStream<unknown, unknown>, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      call.removeListener('drain', onDrain);
      reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    };
    const onDrain = (): void => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    };
    call.once('drain', onDrain);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
