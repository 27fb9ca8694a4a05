import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { readTlsFiles } from '@berth/grpc-kit';
import { connectNats } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { ServiceName } from './api.ts';
import { EventBatcher } from './application/batcher.ts';
import { GrpcGateway } from './adapters/grpc/gateway.ts';
import { createConsoleServer } from './adapters/http/server.ts';
import { loadAssets } from './adapters/http/static.ts';
import { followEvents } from './adapters/nats/events.ts';
import { followHostUsage } from './adapters/nats/usage.ts';
import type { ConsoleConfig } from './config.ts';

export interface RunningConsole {
  readonly port: number;
  /** `http://127.0.0.1:<port>` (or the bound address). */
  readonly url: string;
  stop(): Promise<void>;
}

export const DEFAULT_ASSETS_DIR = fileURLToPath(new URL('../dist', import.meta.url));

/** Starts the console: the gRPC gateway, the event and usage followers and the HTTP server. Owns no state. */
export async function startConsole(config: Readonly<ConsoleConfig>, logger: Logger): Promise<RunningConsole> {
  const assets = loadAssets(config.CONSOLE_ASSETS_DIR || DEFAULT_ASSETS_DIR);
  const addr = (a: string): string | undefined => (a === 'off' ? undefined : a);
  const addresses: Record<ServiceName, string | undefined> = {
    inventory: config.INVENTORY_ADDR,
    scheduler: config.SCHEDULER_ADDR,
    migration: addr(config.MIGRATION_ADDR),
    telemetry: addr(config.TELEMETRY_ADDR),
  };
  const tlsFiles = {
    ...(config.CONSOLE_GRPC_TLS_CA_FILE ? { caFile: config.CONSOLE_GRPC_TLS_CA_FILE } : {}),
    ...(config.CONSOLE_GRPC_TLS_CERT_FILE ? { certFile: config.CONSOLE_GRPC_TLS_CERT_FILE } : {}),
    ...(config.CONSOLE_GRPC_TLS_KEY_FILE ? { keyFile: config.CONSOLE_GRPC_TLS_KEY_FILE } : {}),
  };
  const tls = Object.keys(tlsFiles).length > 0 ? readTlsFiles(tlsFiles) : undefined;
  const gateway = new GrpcGateway({ addresses, deadlineMillis: config.CONSOLE_CALL_DEADLINE, ...(tls ? { tls } : {}) });
  const batcher = new EventBatcher(config.CONSOLE_EVENT_FLUSH);
  const nc = await connectNats({
    url: config.NATS_URL,
    name: 'berth-console',
    ...(config.NATS_CREDS !== undefined && { credsFile: config.NATS_CREDS }),
  });
  const stopEvents = followEvents(nc, config.NATS_PREFIX, (e) => batcher.push(e), logger);
  const usage = followHostUsage(nc, config.NATS_PREFIX, config.CONSOLE_USAGE_MAX_AGE, logger);
  const server = createConsoleServer({
    gateway,
    batcher,
    usage,
    assets,
    info: { services: gateway.available(), eventFlushMillis: config.CONSOLE_EVENT_FLUSH },
    authToken: config.CONSOLE_AUTH_TOKEN,
    logger,
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.CONSOLE_PORT, config.CONSOLE_BIND, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const host = config.CONSOLE_BIND.includes(':') ? `[${config.CONSOLE_BIND}]` : config.CONSOLE_BIND;
  return {
    port,
    url: `http://${host}:${port}`,
    async stop() {
      batcher.stop();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      await stopEvents();
      await usage.stop();
      await nc.close();
      gateway.close();
    },
  };
}
