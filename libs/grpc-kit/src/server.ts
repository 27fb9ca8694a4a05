import * as grpc from '@grpc/grpc-js';
import { grpcHealthV1, grpcReflectionV1, grpcReflectionV1alpha } from '@berth/contracts';
import { withKitDefaults } from './channel-options.ts';
import { refusingService } from './decode.ts';
import { DescriptorIndex, defaultDescriptorSetPath } from './descriptors.ts';
import { isBindable, BIND_LOGGER } from './handlers.ts';
import { HealthService } from './health.ts';
import type { Logger } from './logger.ts';
import { reflectionHandler } from './reflection.ts';
import { BERTH_RPC_POLICY } from './berth-policy.ts';
import { authorizationInterceptor, type RpcPolicy } from './policy.ts';
import { DEFAULT_GRPC_HOST, InsecureBindError, isLoopbackHost } from './security.ts';
import { serverCredentials, type ServerTls } from './tls.ts';

export interface ServiceRegistration {
  /** A generated service definition, e.g. `inventoryV1.InventoryServiceService`. */
  readonly definition: grpc.ServiceDefinition;
  readonly implementation: grpc.UntypedServiceImplementation;
}

export interface GrpcServerOptions {
  /** Used in logs. */
  readonly serviceName: string;
  readonly services: readonly ServiceRegistration[];
  /** Real readiness (database and NATS reachable); drives the health service. */
  readonly readiness: () => Promise<boolean>;
  readonly logger: Logger;
  /** Mutual TLS (`requireClientCert`) is required to listen anywhere but loopback. */
  readonly tls?: ServerTls | undefined;
  /** Who may call what, enforced on TLS connections (plaintext is loopback-only, authentication off). Default: BERTH_RPC_POLICY. */
  readonly policy?: RpcPolicy;
  /** Buf image for reflection; defaults to @berth/contracts' descriptors.binpb. */
  readonly descriptorSet?: string | Uint8Array;
  readonly readinessTimeoutMillis?: number;
  readonly healthPollMillis?: number;
  /** grpc-js server options, over the kit's defaults (channelz off, see KIT_CHANNEL_DEFAULTS). */
  readonly channelOptions?: grpc.ChannelOptions;
}

export interface GrpcServer {
  /**
   * Binds and starts serving; port 0 picks a free port. Resolves to the bound port. Loopback by
   * default; any other address without mutual TLS rejects with an InsecureBindError.
   */
  listen(port: number, host?: string): Promise<number>;
  /**
   * Health says NOT_SERVING at once, the server keeps serving for `graceMillis` so balancers
   * notice, then stops accepting and waits for in-flight calls, cancelling them after `forceAfterMillis`.
   */
  shutdown(graceMillis: number, forceAfterMillis?: number): Promise<void>;
  /** Full names of the services served, including health and reflection. */
  readonly services: readonly string[];
}

const HEALTH = 'grpc.health.v1.Health';
const REFLECTION = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

export function serviceNameOf(definition: grpc.ServiceDefinition): string {
  const first = Object.values(definition)[0];
  const match = first ? /^\/([^/]+)\//.exec(first.path) : null;
  if (!match?.[1]) throw new Error('service definition has no methods');
  return match[1];
}

export function createGrpcServer(options: GrpcServerOptions): GrpcServer {
  const { logger } = options;
  const credentials = serverCredentials(options.tls);
  const server = new grpc.Server({
    ...withKitDefaults(options.channelOptions),
    interceptors: [authorizationInterceptor(options.policy ?? BERTH_RPC_POLICY, logger)],
  });
  const own = options.services.map((s) => serviceNameOf(s.definition));

  for (const { definition, implementation } of options.services) {
    const bound = Object.fromEntries(
      Object.entries(implementation).map(([name, fn]) => [name, isBindable(fn) ? fn[BIND_LOGGER](logger) : fn]),
    );
    // Undecodable bytes and NUL in strings are INVALID_ARGUMENT before any handler (decode.ts).
    const refusing = refusingService(definition, bound, logger);
    server.addService(refusing.definition, refusing.implementation);
  }

  const health = new HealthService({
    services: [...own, HEALTH],
    readiness: options.readiness,
    readinessTimeoutMillis: options.readinessTimeoutMillis ?? 2000,
    pollMillis: options.healthPollMillis ?? 5000,
    logger,
  });
  server.addService(grpcHealthV1.HealthService, health.implementation);

  const services = [...own, HEALTH];
  const index = loadDescriptors(options.descriptorSet, logger);
  if (index) {
    services.push(...REFLECTION);
    const handler = reflectionHandler(index, [...services]);
    server.addService(grpcReflectionV1.ServerReflectionService, { serverReflectionInfo: handler });
    server.addService(grpcReflectionV1alpha.ServerReflectionService, { serverReflectionInfo: handler });
  }

  let stopping: Promise<void> | undefined;
  return {
    services,
    listen: (port, host = DEFAULT_GRPC_HOST) =>
      new Promise((resolve, reject) => {
        if (!isLoopbackHost(host) && options.tls?.requireClientCert !== true) {
          reject(new InsecureBindError(options.serviceName, host));
          return;
        }
        server.bindAsync(`${host}:${port}`, credentials, (err, bound) => {
          if (err) return reject(err);
          logger.info(
            {
              service: options.serviceName,
              port: bound,
              tls: options.tls !== undefined,
              mutualTls: options.tls?.requireClientCert === true,
              host,
              services,
            },
            'gRPC server listening',
          );
          resolve(bound);
        });
      }),
    shutdown: (graceMillis, forceAfterMillis = 10_000) => {
      stopping ??= (async () => {
        await health.drain();
        logger.info({ service: options.serviceName, graceMillis }, 'gRPC server draining');
        await sleep(graceMillis);
        health.close();
        let timer: NodeJS.Timeout | undefined;
        const outcome = await Promise.race([
          new Promise<'graceful'>((resolve) => server.tryShutdown(() => resolve('graceful'))),
          new Promise<'forced'>((resolve) => {
            timer = setTimeout(() => resolve('forced'), forceAfterMillis);
          }),
        ]);
        clearTimeout(timer);
        if (outcome === 'forced') server.forceShutdown();
        logger.info({ service: options.serviceName, outcome }, 'gRPC server stopped');
      })();
      return stopping;
    },
  };
}

function loadDescriptors(source: string | Uint8Array | undefined, logger: Logger): DescriptorIndex | undefined {
  try {
    return source instanceof Uint8Array ? new DescriptorIndex(source) : DescriptorIndex.fromFile(source ?? defaultDescriptorSetPath());
  } catch (err) {
    // A server without reflection still serves; say why it is missing instead of refusing to start.
    logger.warn({ err }, 'server reflection disabled: cannot read the descriptor set');
    return undefined;
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
