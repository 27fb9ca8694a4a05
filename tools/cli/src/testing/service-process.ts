/**
 * A Berth service started as its own process for the CLI's int specs (tools never import services):
 * `node --import tsx services/<name>/src/main.ts` on a free port, logging at warn, without OTLP;
 * resolved once its gRPC health answers SERVING, with its output kept for the error that says why not.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { grpcHealthV1 } from '@berth/contracts';
import { freePort } from '@berth/testing';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

export interface ServiceProcess {
  readonly child: ChildProcess;
  /** `127.0.0.1:<port>` */
  readonly address: string;
  /** Everything the process wrote so far. */
  log: string;
}

/** Starts `services/<name>` with `env` and its port in `portEnv`; throws with its output if it exits or is not SERVING within 60 s. */
export async function startServiceProcess(name: string, portEnv: string, env: Record<string, string>): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', `services/${name}/src/main.ts`], {
    cwd: root,
    env: { ...process.env, ...env, [portEnv]: String(port), OTEL_SDK_DISABLED: 'true', LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const service: ServiceProcess = { child, address: `127.0.0.1:${port}`, log: '' };
  child.stdout?.on('data', (d: Buffer) => (service.log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (service.log += d.toString()));
  try {
    await waitServing(name, service);
  } catch (e) {
    await stopServiceProcess(service);
    throw e;
  }
  return service;
}

/** SIGTERM, resolved once the process has exited (nothing to do when it was never started or already exited). */
export async function stopServiceProcess(service: ServiceProcess | undefined): Promise<void> {
  const child = service?.child;
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
}

async function waitServing(name: string, service: ServiceProcess): Promise<void> {
  const client = new grpcHealthV1.HealthClient(service.address, grpc.credentials.createInsecure());
  try {
    for (let i = 0; i < 240; i++) {
      if (service.child.exitCode !== null) throw new Error(`${name} exited with ${service.child.exitCode}:\n${service.log}`);
      const status = await new Promise<number | undefined>((resolve) =>
        client.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 1000 }, (err, res) =>
          resolve(err ? undefined : res.status),
        ),
      );
      if (status === grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING) return;
      await new Promise((r) => setTimeout(r, 250));
    }
    throw new Error(`${name} did not become SERVING:\n${service.log}`);
  } finally {
    client.close();
  }
}
