/**
 * mTLS by default: every service, started as its own process on a non-loopback address without
 * TLS, refuses to start (non-zero exit) with a message naming the variables to set — before it
 * touches its database or NATS (none is configured here that could answer).
 */
import { spawn } from 'node:child_process';
import { networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SERVICE_NODE_FLAGS } from '@berth/config';
import { repoRoot } from './harness/service.ts';

const SERVICES = ['inventory', 'scheduler', 'placement-executor', 'migration', 'telemetry'];

/** This machine's first non-internal IPv4 address (0.0.0.0 when it has none). */
function machineAddress(): string {
  const all = Object.values(networkInterfaces()).flatMap((list) => list ?? []);
  return all.find((a) => a.family === 'IPv4' && !a.internal)?.address ?? '0.0.0.0';
}

function run(service: string, env: Record<string, string>): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      join(repoRoot, 'node_modules', '.bin', 'tsx'),
      [...SERVICE_NODE_FLAGS, join(repoRoot, 'services', service, 'src', 'main.ts')],
      {
        cwd: join(repoRoot, 'services', service),
        // Unreachable database and NATS: a service that got past the check would fail differently (or hang).
        // Without this test process's own identity (the harness's TLS mode sets BERTH_TLS_* here): the
        // point is a service with no TLS settings of its own.
        env: {
          ...withoutTls(process.env),
          OTEL_TRACES_EXPORTER: 'none',
          DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none',
          NATS_URL: 'nats://127.0.0.1:1',
          ...env,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    let output = '';
    child.stdout.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr.on('data', (c: Buffer) => (output += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 240_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

const withoutTls = (env: NodeJS.ProcessEnv): NodeJS.ProcessEnv =>
  Object.fromEntries(Object.entries(env).filter(([k]) => !k.startsWith('BERTH_TLS_')));

describe('a gRPC server off loopback without mutual TLS', () => {
  // One process per case, all at once: a tsx start costs seconds on a loaded machine.
  it("every service refuses to start on 0.0.0.0 and on the machine's address, naming BERTH_TLS_CERT/KEY/CA", async () => {
    const address = machineAddress();
    const [partial, own, ...results] = await Promise.all([
      run('inventory', { GRPC_HOST: address, BERTH_TLS_CERT: '/nonexistent/inventory.crt' }),
      run('scheduler', { GRPC_HOST: address }),
      ...SERVICES.map((service) => run(service, { GRPC_HOST: '0.0.0.0' })),
    ]);
    for (const [i, { code, output }] of results.entries()) {
      expect({ service: SERVICES[i], code }).not.toEqual({ service: SERVICES[i], code: 0 });
      expect(output).toMatch(
        /refusing to serve gRPC on 0\.0\.0\.0 without mutual TLS\. Set BERTH_TLS_CERT, BERTH_TLS_KEY and BERTH_TLS_CA/,
      );
    }
    expect(own?.code).not.toBe(0);
    expect(own?.output).toContain(`scheduler: refusing to serve gRPC on ${address} without mutual TLS`);
    expect(partial?.code).not.toBe(0);
    expect(partial?.output).toMatch(/BERTH_TLS_KEY: is required with BERTH_TLS_CERT/);
  });
});
