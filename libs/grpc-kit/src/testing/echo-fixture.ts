// Test support for the kit's own integration tests: an EchoService whose behaviour is chosen by
// the message, a server on an ephemeral port, and a logger that records what it is given.
import * as grpc from '@grpc/grpc-js';
import { testingV1 } from '@berth/contracts';
import { ConcurrencyError, IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import { callUnary, createClient, type ClientOptions } from '../client.ts';
import type { CallContext } from '../context.ts';
import type { Caller } from '../identity.ts';
import { serverStream, unary } from '../handlers.ts';
import type { Logger } from '../logger.ts';
import { createGrpcServer, type GrpcServer, type GrpcServerOptions } from '../server.ts';

export interface LogEntry {
  readonly level: 'info' | 'warn' | 'error';
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}

export function recordingLogger(): Logger & { entries: LogEntry[] } {
  const entries: LogEntry[] = [];
  const at =
    (level: LogEntry['level']) =>
    (obj: object, msg?: string): void =>
      void entries.push({ level, obj: obj as Record<string, unknown>, msg });
  return { entries, info: at('info'), warn: at('warn'), error: at('error') };
}

/** What handlers observed, for assertions after the call returned. */
export interface Observed {
  readonly deadlines: (Date | undefined)[];
  readonly aborts: unknown[];
  readonly callers: Caller[];
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
      },
      { once: true },
    );
  });
}

export function echoImplementation(observed: Observed, downstream?: testingV1.EchoServiceClient): testingV1.EchoServiceServer {
  const echo = async (req: testingV1.EchoRequest, ctx: CallContext): Promise<testingV1.EchoResponse> => {
    observed.deadlines.push(ctx.deadline);
    observed.callers.push(ctx.caller);
    ctx.signal.addEventListener('abort', () => observed.aborts.push(ctx.signal.reason), { once: true });
    switch (req.message) {
      case 'invalid':
        throw new ValidationError([
          { field: 'message', reason: 'must not be "invalid"' },
          { field: 'meta.commandId', reason: 'is required – ünïcode too' },
        ]);
      case 'missing':
        throw new NotFoundError('Echo', 'e-1');
      case 'illegal':
        throw new IllegalStateError('echo is stopped');
      case 'conflict':
        throw new ConcurrencyError('echo-1', 3, 4);
      case 'boom':
        throw new Error('connection to postgres://secret@db failed');
      case 'relay': {
        if (!downstream) throw new Error('no downstream');
        return callUnary(downstream, 'echo', { message: 'from-relay', delayMillis: req.delayMillis }, { parent: ctx });
      }
    }
    if (req.delayMillis > 0) await sleep(req.delayMillis, ctx.signal);
    return { message: req.message, deadlineUnixMillis: ctx.deadline?.getTime() ?? 0 };
  };
  return {
    echo: unary(echo),
    echoStream: serverStream(async function* (req: testingV1.EchoStreamRequest, ctx: CallContext) {
      observed.callers.push(ctx.caller);
      for (let index = 0; index < req.count; index++) {
        if (req.message === 'fail-midway' && index === 2) throw new IllegalStateError('stream broke at 2');
        yield { message: req.message, index };
      }
    }),
  };
}

export interface EchoServer {
  readonly server: GrpcServer;
  readonly port: number;
  readonly address: string;
  readonly observed: Observed;
  readonly logger: ReturnType<typeof recordingLogger>;
  client(options?: ClientOptions): testingV1.EchoServiceClient;
  close(): Promise<void>;
}

export async function startEchoServer(
  options: Partial<Omit<GrpcServerOptions, 'services'>> & { downstream?: testingV1.EchoServiceClient; host?: string } = {},
): Promise<EchoServer> {
  const observed: Observed = { deadlines: [], aborts: [], callers: [] };
  const logger = recordingLogger();
  const server = createGrpcServer({
    serviceName: 'echo',
    readiness: async () => true,
    logger,
    ...options,
    services: [{ definition: testingV1.EchoServiceService, implementation: echoImplementation(observed, options.downstream) }],
  });
  const host = options.host ?? '127.0.0.1';
  const port = await server.listen(0, host);
  const address = `${host}:${port}`;
  const clients: grpc.Client[] = [];
  return {
    server,
    port,
    address,
    observed,
    logger,
    client: (clientOptions) => {
      const c = createClient(testingV1.EchoServiceClient, address, clientOptions);
      clients.push(c);
      return c;
    },
    close: async () => {
      clients.forEach((c) => c.close());
      await server.shutdown(0, 1000);
    },
  };
}

/** Promisified unary call that resolves to the ServiceError instead of rejecting. */
export async function errorOf(p: Promise<unknown>): Promise<grpc.ServiceError> {
  try {
    await p;
  } catch (e) {
    return e as grpc.ServiceError;
  }
  throw new Error('expected the call to fail');
}
