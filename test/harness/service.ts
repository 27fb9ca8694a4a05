/**
 * Starts a real Berth service process for end-to-end tests (`node .berth/build/services/<name>/src/main.mjs`
 * when the build scripts/prestart.mjs makes is fresh, else `node --import tsx services/<name>/src/main.ts`) with
 * the given environment and a free gRPC port, waits until its gRPC health answers SERVING, keeps
 * its log lines, and stops it (SIGTERM, then SIGKILL) on teardown.
 *
 *   const inv = await startService('inventory', { DATABASE_URL, NATS_PREFIX });
 *   ... inv.address ... inv.logs() ...
 *   await stopAll();   // in afterAll
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { grpcHealthV1 } from '@berth/contracts';
import { createClient } from '@berth/grpc-kit';
import { SERVICE_NODE_FLAGS } from '@berth/config';
import { provisionNats } from '@berth/messaging';
import { freePort, natsUrl, serviceNatsCreds } from '@berth/testing';
import { serviceCommand } from '../../scripts/service-build.mjs';
import { serviceTlsEnv } from './tls.ts';

export const repoRoot = new URL('../..', import.meta.url).pathname;

export interface StartOptions {
  /** Port to listen on; a free one by default. */
  readonly port?: number;
  /** Variable the service reads its port from; from package.json `berth.portEnv` by default. */
  readonly portEnv?: string;
  /** How long to wait for SERVING (default 120 s: several tsx processes start on 2 cores). */
  readonly readyTimeoutMillis?: number;
  /** Label in logs and errors, e.g. `scheduler-2` (default: the service name). */
  readonly label?: string;
  /** Echo the service's log lines to this process's stderr (default: env E2E_VERBOSE=1). */
  readonly echo?: boolean;
  /** Write the log to `<dir>/<label>.log` when the service stops (default: env E2E_LOG_DIR). */
  readonly logDir?: string;
  /**
   * Kept for the callers that need it said: every service now runs as one node process (the built
   * JavaScript or `node --import tsx`, never the tsx launcher's child), so SIGKILL/SIGSTOP reach it.
   */
  readonly singleProcess?: boolean;
}

export interface ServiceHandle {
  readonly name: string;
  readonly label: string;
  readonly port: number;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  readonly pid: number;
  /** Every line written to stdout/stderr so far. */
  logs(): readonly string[];
  /** Log lines parsed as JSON (pino), non-JSON lines skipped. */
  jsonLogs(): readonly Record<string, unknown>[];
  /** Resolves with the exit code (or signal name) once the process has exited. */
  readonly exited: Promise<number | string>;
  stop(graceMillis?: number): Promise<void>;
  /** SIGKILL, as in a crash (it reaches the service itself); resolves once it exited. */
  kill(): Promise<void>;
}

const running = new Set<ServiceHandle>();

function berthOf(name: string): { portEnv?: string; health?: string } {
  const pkg = JSON.parse(readFileSync(join(repoRoot, 'services', name, 'package.json'), 'utf8')) as {
    berth?: { portEnv?: string; health?: string };
  };
  return pkg.berth ?? {};
}

function portEnvOf(name: string): string {
  const env = berthOf(name).portEnv;
  if (env === undefined) throw new Error(`services/${name}/package.json has no berth.portEnv; pass options.portEnv`);
  return env;
}

/** One gRPC health check: the status name, or `UNREACHABLE`. */
export function healthOf(address: string, timeoutMillis = 2000): Promise<string> {
  // Plaintext, or in TLS mode (harness/tls.ts) the test process's operator identity.
  const client = createClient(grpcHealthV1.HealthClient, address);
  return new Promise((resolve) => {
    client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + timeoutMillis }, (err, res) => {
      client.close();
      resolve(err ? 'UNREACHABLE' : grpcHealthV1.healthCheckResponse_ServingStatusToJSON(res.status));
    });
  });
}

/** GET /healthz of an HTTP service: `SERVING` on 200, else `UNREACHABLE`. */
export async function httpHealthOf(address: string, timeoutMillis = 1000): Promise<string> {
  try {
    const res = await fetch(`http://${address}/healthz`, { signal: AbortSignal.timeout(timeoutMillis) });
    return res.ok ? 'SERVING' : 'UNREACHABLE';
  } catch {
    return 'UNREACHABLE';
  }
}

export async function startService(
  name: string,
  env: Readonly<Record<string, string>>,
  options: StartOptions = {},
): Promise<ServiceHandle> {
  const label = options.label ?? name;
  const port = options.port ?? (await freePort());
  const echo = options.echo ?? process.env['E2E_VERBOSE'] === '1';
  // E2E_NODE_ARGS (e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof`) is added to the node command line.
  const nodeArgs = process.env['E2E_NODE_ARGS']?.split(' ').filter(Boolean) ?? [];
  // The services' own flags first: a flag given again in E2E_NODE_ARGS wins. One process either way
  // (the built JavaScript when it is fresh, else the sources under tsx): its pid is the service's own.
  const { command, args: argv } = serviceCommand(repoRoot, name, [...SERVICE_NODE_FLAGS, ...nodeArgs]);
  // On the shared NATS server (npm test's, with a user per service) the service signs in as its own user.
  const creds = env['NATS_URL'] === undefined || env['NATS_URL'] === process.env['NATS_URL'] ? serviceNatsCreds(name) : undefined;
  // Its user may only look streams up: the test's own connection (allowed everything) provisions them first, as
  // npm start's administrator step does.
  if (creds !== undefined) await provisionNats({ url: natsUrl(), ...(env['NATS_PREFIX'] ? { prefix: env['NATS_PREFIX'] } : {}) });
  const child: ChildProcess = spawn(command, argv, {
    cwd: join(repoRoot, 'services', name),
    // In TLS mode (BERTH_TEST_TLS=1) the service serves and calls with its own identity unless `env` says otherwise.
    env: {
      ...process.env,
      OTEL_TRACES_EXPORTER: 'none',
      ...serviceTlsEnv(name),
      ...(creds !== undefined && { NATS_CREDS: creds }),
      // The stacks register sim:// hosts: an executor started here serves them unless `env` says otherwise.
      ...(name === 'placement-executor' && { EXECUTOR_SIMULATOR: 'on' }),
      ...env,
      [options.portEnv ?? portEnvOf(name)]: String(port),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  const collect = (stream: NodeJS.ReadableStream | null): void => {
    let buf = '';
    stream?.on('data', (chunk: Buffer) => {
      buf += chunk.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(line);
        if (echo) process.stderr.write(`[${label}] ${line}\n`);
      }
    });
  };
  collect(child.stdout);
  collect(child.stderr);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));
  let exitedWith: number | string | undefined;
  void exited.then((c) => (exitedWith = c));

  const handle: ServiceHandle = {
    name,
    label,
    port,
    address: `127.0.0.1:${port}`,
    pid: child.pid ?? -1,
    logs: () => lines,
    jsonLogs: () =>
      lines.flatMap((l) => {
        try {
          const v = JSON.parse(l) as Record<string, unknown> | null;
          return typeof v === 'object' && v !== null ? [v] : [];
        } catch {
          return [];
        }
      }),
    exited,
    async stop(graceMillis = 5000) {
      running.delete(handle);
      if (exitedWith === undefined) {
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), graceMillis);
        await exited;
        clearTimeout(timer);
      }
      keepLog();
    },
    async kill() {
      running.delete(handle);
      if (exitedWith === undefined) child.kill('SIGKILL');
      await exited;
      keepLog();
    },
  };
  const keepLog = (): void => {
    const dir = options.logDir ?? process.env['E2E_LOG_DIR'];
    if (dir !== undefined && dir !== '') {
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${label}.log`), `${lines.join('\n')}\n`);
    }
  };
  running.add(handle);

  const until = Date.now() + (options.readyTimeoutMillis ?? 120_000);
  // HTTP services (`"health": "http"` in package.json's berth field, the console) answer GET /healthz.
  const health = berthOf(name).health === 'http' ? () => httpHealthOf(handle.address) : () => healthOf(handle.address, 1000);
  for (;;) {
    if (exitedWith !== undefined) {
      running.delete(handle);
      throw new Error(`${label} exited (${exitedWith}) before it was SERVING:\n${lines.slice(-20).join('\n')}`);
    }
    if ((await health()) === 'SERVING') return handle;
    if (Date.now() > until) {
      await handle.stop();
      throw new Error(`${label} was not SERVING within ${options.readyTimeoutMillis ?? 120_000} ms:\n${lines.slice(-20).join('\n')}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Stops every service started by this process that is still running (use in afterAll). */
export async function stopAll(): Promise<void> {
  await Promise.all([...running].map((s) => s.stop()));
}
