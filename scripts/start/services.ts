/**
 * Discovers every service under services/ and runs it as its own process. A service declares how
 * it is run in its package.json `berth` field:
 *   { "port": 50051, "portEnv": "INVENTORY_GRPC_PORT", "database": "berth_inventory", "order": 1 }
 * Services start in `order`; each is considered up when its gRPC health check answers SERVING, or,
 * for a service with `"health": "http"` (the console), when GET /healthz answers 200.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { grpcHealthV1 } from '@berth/contracts';
import { createClient } from '@berth/grpc-kit';
import { SERVICE_NODE_FLAGS } from '@berth/config';
import { serviceCommand } from '../service-build.mjs';

export interface ServiceManifest {
  readonly name: string;
  readonly dir: string;
  readonly port: number;
  readonly portEnv: string;
  readonly database?: string;
  readonly order: number;
  /** How its health is checked: gRPC health (default) or GET /healthz. */
  readonly health: 'grpc' | 'http';
}

export function discoverServices(root: string): ServiceManifest[] {
  const dir = join(root, 'services');
  return readdirSync(dir)
    .filter((name) => existsSync(join(dir, name, 'src', 'main.ts')))
    .map((name) => {
      const pkg = JSON.parse(readFileSync(join(dir, name, 'package.json'), 'utf8')) as {
        berth?: { port?: number; portEnv?: string; database?: string; order?: number; health?: 'grpc' | 'http' };
      };
      const b = pkg.berth ?? {};
      if (b.port === undefined || b.portEnv === undefined) {
        throw new Error(`services/${name}/package.json: the "berth" field needs "port" and "portEnv"`);
      }
      return {
        name,
        dir: join(dir, name),
        port: b.port,
        portEnv: b.portEnv,
        database: b.database,
        order: b.order ?? 100,
        health: b.health === 'http' ? ('http' as const) : ('grpc' as const),
      };
    })
    .sort((a, b) => a.order - b.order || a.name.localeCompare(b.name));
}

export function checkHealth(address: string, timeoutMs = 2000): Promise<string> {
  // Plaintext, or with --tls the operator certificate scripts/start/tls.ts put in BERTH_TLS_*.
  const client = createClient(grpcHealthV1.HealthClient, address);
  return new Promise((resolve) => {
    client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (err, res) => {
      client.close();
      resolve(err ? `UNREACHABLE (${err.details || err.message})` : grpcHealthV1.healthCheckResponse_ServingStatusToJSON(res.status));
    });
  });
}

/** SERVING when the service answers its health check (gRPC, or GET /healthz for HTTP services). */
export async function checkServiceHealth(svc: Pick<ServiceManifest, 'health'>, address: string, timeoutMs = 2000): Promise<string> {
  if (svc.health === 'grpc') return checkHealth(address, timeoutMs);
  try {
    const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(timeoutMs) });
    return res.ok ? 'SERVING' : `NOT_SERVING (HTTP ${res.status})`;
  } catch (e) {
    return `UNREACHABLE (${e instanceof Error ? e.message : String(e)})`;
  }
}

/** The URL printed for a service: grpc://host:port, or http://host:port for HTTP services. */
export const endpointOf = (svc: Pick<ServiceManifest, 'health'>, address: string): string =>
  `${svc.health === 'http' ? 'http' : 'grpc'}://${address}`;

export function startService(root: string, svc: ServiceManifest, env: NodeJS.ProcessEnv): ChildProcess {
  // The built JavaScript when prestart's build is fresh, else the sources under tsx (scripts/service-build.mjs).
  const { command, args } = serviceCommand(root, svc.name, SERVICE_NODE_FLAGS);
  const child = spawn(command, args, {
    cwd: svc.dir,
    env: { ...env, [svc.portEnv]: String(svc.port), OTEL_SERVICE_NAME: env['OTEL_SERVICE_NAME'] ?? `berth-${svc.name}` },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const prefix = `[${svc.name}]`.padEnd(22);
  const forward = (stream: NodeJS.ReadableStream | null, out: NodeJS.WriteStream) => {
    let buf = '';
    stream?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i;
      while ((i = buf.indexOf('\n')) >= 0) {
        out.write(`${prefix} ${formatLogLine(buf.slice(0, i))}\n`);
        buf = buf.slice(i + 1);
      }
    });
  };
  forward(child.stdout, process.stdout);
  forward(child.stderr, process.stderr);
  return child;
}

/** Services log pino JSON; on a terminal show `level msg` and keep the JSON otherwise. */
function formatLogLine(line: string): string {
  if (!process.stdout.isTTY) return line;
  try {
    const o = JSON.parse(line) as { level?: number | string; msg?: string };
    const levels: Record<string, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };
    return `${levels[String(o.level)] ?? o.level ?? ''} ${o.msg ?? line}`;
  } catch {
    return line;
  }
}
