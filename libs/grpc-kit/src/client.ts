import * as grpc from '@grpc/grpc-js';
import { withKitDefaults } from './channel-options.ts';
import type { CallContext } from './context.ts';
import { DEFAULT_CONNECT_TIMEOUT_MILLIS, RenewingChannel } from './renewing-channel.ts';
import { channelCredentials, readTlsFiles, type ClientTls } from './tls.ts';

export interface ClientOptions {
  /**
   * TLS settings; when omitted, the process's own identity from BERTH_TLS_CERT / BERTH_TLS_KEY /
   * BERTH_TLS_CA if all three are set (see `envClientTls`), else plaintext.
   */
  readonly tls?: ClientTls;
  /** Deadline of calls that give none; a parent deadline still caps it. Default 30 s. */
  readonly deadlineMillis?: number;
  /** grpc-js channel options, over the kit's defaults (channelz off, see KIT_CHANNEL_DEFAULTS). */
  readonly channelOptions?: grpc.ChannelOptions;
  /**
   * How long the channel may stay connecting (never READY) before it is closed and a fresh one serves
   * later calls (`RenewingChannel`: grpc-js puts no bound on a connection attempt). Default 20 s;
   * 0 turns it off (a plain grpc-js channel).
   */
  readonly connectTimeoutMillis?: number;
}

type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: grpc.ClientOptions) => C;

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type UnaryMethod<Req = any, Res = any> = (
  request: Req,
  metadata: grpc.Metadata,
  options: Partial<grpc.CallOptions>,
  callback: (error: grpc.ServiceError | null, response: Res) => void,
) => grpc.ClientUnaryCall;

/** Names of the unary methods of a generated client. */
export type UnaryMethodName<C> = { [K in keyof C]: C[K] extends UnaryMethod ? K : never }[keyof C];
type RequestOf<F> = F extends UnaryMethod<infer Req> ? Req : never;
type ResponseOf<F> = F extends UnaryMethod<never, infer Res> ? Res : never;

export interface UnaryCallOptions {
  /** Absolute deadline (Date or Unix millis). */
  readonly deadline?: Date | number;
  /** The handler context this call is made from: its deadline caps ours, its cancellation cancels ours. */
  readonly parent?: Pick<CallContext, 'deadline' | 'signal'>;
  readonly metadata?: grpc.Metadata;
}

const DEFAULT_DEADLINE_MILLIS = 30_000;
const clientDefaults = new WeakMap<object, { deadlineMillis: number }>();

export function createClient<C extends grpc.Client>(Ctor: ClientCtor<C>, address: string, options: ClientOptions = {}): C {
  const channelOptions = withKitDefaults(options.channelOptions);
  if (options.tls?.serverName) channelOptions['grpc.ssl_target_name_override'] = options.tls.serverName;
  const credentials = channelCredentials(options.tls ?? envClientTls());
  const connectTimeout = options.connectTimeoutMillis ?? DEFAULT_CONNECT_TIMEOUT_MILLIS;
  const client =
    connectTimeout === 0
      ? new Ctor(address, credentials, channelOptions)
      : new Ctor(address, credentials, {
          ...channelOptions,
          channelOverride: new RenewingChannel(address, credentials, channelOptions, connectTimeout),
        });
  clientDefaults.set(client, { deadlineMillis: options.deadlineMillis ?? DEFAULT_DEADLINE_MILLIS });
  return client;
}

let fromEnv: { key: string; tls: ClientTls | undefined } | undefined;

/**
 * The client identity of this process from BERTH_TLS_CERT / BERTH_TLS_KEY / BERTH_TLS_CA (the same
 * variables a service serves with), read once per set of paths; undefined unless all three are set.
 */
export function envClientTls(env: NodeJS.ProcessEnv = process.env): ClientTls | undefined {
  const [certFile, keyFile, caFile] = [env['BERTH_TLS_CERT'], env['BERTH_TLS_KEY'], env['BERTH_TLS_CA']];
  if (!certFile || !keyFile || !caFile) return undefined;
  const key = `${certFile}\0${keyFile}\0${caFile}`;
  if (fromEnv?.key !== key) fromEnv = { key, tls: readTlsFiles({ certFile, keyFile, caFile }) };
  return fromEnv.tls;
}

/** The deadline a call made now should carry: its own (or the client default), capped by the parent's. */
export function effectiveDeadline(client: object, options: UnaryCallOptions, now = Date.now()): Date {
  const own = options.deadline ?? now + (clientDefaults.get(client)?.deadlineMillis ?? DEFAULT_DEADLINE_MILLIS);
  const millis = Math.min(own instanceof Date ? own.getTime() : own, options.parent?.deadline?.getTime() ?? Infinity);
  return new Date(millis);
}

/**
 * Calls a unary method as a promise, e.g. `callUnary(inventory, 'claimResources', req, { parent: ctx })`.
 * Rejects with the grpc ServiceError (see `fieldViolationsOf` for INVALID_ARGUMENT details).
 */
export function callUnary<C extends grpc.Client, K extends UnaryMethodName<C>>(
  client: C,
  method: K,
  request: RequestOf<C[K]>,
  options: UnaryCallOptions = {},
): Promise<ResponseOf<C[K]>> {
  const fn = client[method] as unknown as UnaryMethod<RequestOf<C[K]>, ResponseOf<C[K]>>;
  const signal = options.parent?.signal;
  const metadata = options.metadata ?? new grpc.Metadata();
  const callOptions = { deadline: effectiveDeadline(client, options) };
  if (signal === undefined) {
    // No parent to follow: no abort listener to add and remove.
    return new Promise((resolve, reject) => {
      fn.call(client, request, metadata, callOptions, (err, response) => (err ? reject(err) : resolve(response)));
    });
  }
  return new Promise((resolve, reject) => {
    const onAbort = (): void => call.cancel();
    const call = fn.call(client, request, metadata, callOptions, (err, response) => {
      signal.removeEventListener('abort', onAbort);
      if (err) reject(err);
      else resolve(response);
    });
    if (signal.aborted) call.cancel();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

type StreamMethod<Req = never, Res = unknown> = (
  request: Req,
  metadata?: grpc.Metadata,
  options?: Partial<grpc.CallOptions>,
) => grpc.ClientReadableStream<Res>;

/** Names of the server-streaming methods of a generated client. */
export type StreamMethodName<C> = { [K in keyof C]: C[K] extends StreamMethod ? K : never }[keyof C];
type StreamRequestOf<F> = F extends (request: infer Req, metadata?: grpc.Metadata) => grpc.ClientReadableStream<unknown> ? Req : never;
type StreamResponseOf<F> = F extends StreamMethod<never, infer Res> ? Res : never;

/**
 * Calls a server-streaming method as an async iterable, with the same deadline rules as `callUnary`.
 * Leaving the loop early cancels the call.
 */
export async function* callServerStream<C extends grpc.Client, K extends StreamMethodName<C>>(
  client: C,
  method: K,
  request: StreamRequestOf<C[K]>,
  options: UnaryCallOptions = {},
): AsyncGenerator<StreamResponseOf<C[K]>, void, undefined> {
  const fn = client[method] as unknown as StreamMethod<StreamRequestOf<C[K]>, StreamResponseOf<C[K]>>;
  const stream = fn.call(client, request, options.metadata ?? new grpc.Metadata(), { deadline: effectiveDeadline(client, options) });
  const signal = options.parent?.signal;
  const onAbort = (): void => stream.cancel();
  if (signal?.aborted) stream.cancel();
  else signal?.addEventListener('abort', onAbort, { once: true });
  let finished = false;
  try {
    for await (const message of stream as AsyncIterable<StreamResponseOf<C[K]>>) yield message;
    finished = true;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    if (!finished) {
      stream.on('error', () => undefined);
      stream.cancel();
    }
  }
}
