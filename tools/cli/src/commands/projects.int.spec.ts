import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { grpcHealthV1 } from '@berth/contracts';
import {
  createTestDatabase,
  deletePrefixedStreams,
  freePort,
  infraAvailable,
  natsUrl,
  testSubjectPrefix,
  type TestDatabase,
} from '@berth/testing';
import { runCli } from '../cli.ts';

/** `berth projects ...` against the real inventory process (tools never import services). */
const root = fileURLToPath(new URL('../../../../', import.meta.url));

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('berth projects against inventory', () => {
  let db: TestDatabase;
  let child: ChildProcess | undefined;
  let address = '';
  let log = '';
  const prefix = testSubjectPrefix('cliproj');

  async function berth(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, {
      env: { BERTH_INVENTORY_ADDR: address },
      io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    });
    return { code, out: out.join('\n'), err: err.join('\n') };
  }
  const ok = async (...argv: string[]): Promise<string> => {
    const r = await berth(...argv);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    return r.out;
  };

  beforeAll(async () => {
    db = await createTestDatabase('cli_projects');
    const port = await freePort();
    address = `127.0.0.1:${port}`;
    child = spawn(process.execPath, ['--import', 'tsx', 'services/inventory/src/main.ts'], {
      cwd: root,
      env: {
        ...process.env,
        NATS_URL: natsUrl(),
        NATS_PREFIX: prefix,
        DATABASE_URL: db.url,
        INVENTORY_GRPC_PORT: String(port),
        OTEL_SDK_DISABLED: 'true',
        LOG_LEVEL: 'warn',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
    const health = new grpcHealthV1.HealthClient(address, grpc.credentials.createInsecure());
    try {
      for (let i = 0; ; i++) {
        if (child.exitCode !== null || i > 400) throw new Error(`inventory did not become SERVING:\n${log}`);
        const status = await new Promise<number | undefined>((resolve) =>
          health.check({ service: '' }, new grpc.Metadata(), { deadline: Date.now() + 1000 }, (err, res) =>
            resolve(err ? undefined : res.status),
          ),
        );
        if (status === grpcHealthV1.HealthCheckResponse_ServingStatus.SERVING) break;
        await new Promise((r) => setTimeout(r, 250));
      }
    } finally {
      health.close();
    }
  });

  afterAll(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await new Promise((r) => child!.once('exit', r));
    }
    await deletePrefixedStreams(prefix);
    await db?.drop();
  });

  it('create, set-quota, bind/unbind, show and list a project; VMs composed into it count and are refused at the limit', async () => {
    expect(await ok('projects', 'create', 'research', '--description', 'GPU research')).toBe('project research created');
    const quota = await ok('projects', 'set-quota', 'research', '--vms', '2', '--vcpus', '4', '--memory', '8GiB', '--device', 'gpu=1');
    expect(quota).toMatch(/vms:\s+0 \/ 2/);
    expect(quota).toMatch(/memory:\s+0 B \/ 8 GiB/);
    expect(quota).toMatch(/devices:\s+gpu 0 \/ 1/);
    expect(await ok('projects', 'bind', 'research', 'spiffe://berth/client/lab')).toBe('spiffe://berth/client/lab is bound to research');

    await ok('vms', 'create', 'r1', '--id', 'r1', '--project', 'research', '--vcpus', '2', '--memory', '2GiB', '--device', 'gpu:1');
    const refused = await berth('vms', 'create', 'r2', '--id', 'r2', '--project', 'research', '--vcpus', '4', '--memory', '1GiB');
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/RESOURCE_EXHAUSTED: .*project:research quota vcpus exceeded: 2 in use \+ 4 requested > limit 4/);
    expect(await ok('vms', 'show', 'r1')).toMatch(/project:\s+research/);

    const shown = await ok('projects', 'show', 'research');
    expect(shown).toMatch(/vcpus:\s+2 \/ 4/);
    expect(shown).toMatch(/devices:\s+gpu 1 \/ 1/);
    // The bindings are listed from the read model, which follows the log shortly after each commit.
    await expect
      .poll(async () => (await ok('projects', 'list')).split('\n').find((l) => l.startsWith('research')), { timeout: 10_000 })
      .toMatch(/^research\s+1 \/ 2\s+2 \/ 4\s+2 GiB \/ 8 GiB\s+gpu 1 \/ 1\s+1$/);
    const listed = JSON.parse(await ok('projects', 'list', '--json')) as { name: string }[];
    expect(listed.map((p) => p.name)).toEqual(['default', 'research']);

    await ok('vms', 'delete', 'r1');
    expect(await ok('projects', 'show', 'research')).toMatch(/vcpus:\s+0 \/ 4/);
    expect(await ok('projects', 'unbind', 'research', 'spiffe://berth/client/lab')).toBe(
      'spiffe://berth/client/lab is bound to no project',
    );
  });

  it('bad input: INVALID_ARGUMENT naming the field from inventory, or the option before any call', async () => {
    const unknown = await berth('projects', 'set-quota', 'nowhere', '--vcpus', '1');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/INVALID_ARGUMENT:\n\s+project: unknown project 'nowhere'/);
    const badName = await berth('projects', 'create', 'Not_A_Label');
    expect(badName.err).toMatch(/INVALID_ARGUMENT:\n\s+project: must be 1-63/);
    const negative = await berth('projects', 'set-quota', 'research', '--vcpus=-1');
    expect(negative.code).not.toBe(0);
    expect(negative.err).toMatch(/--vcpus: must be between 0 and/);
    const device = await berth('projects', 'set-quota', 'research', '--device', 'gpu');
    expect(device.err).toMatch(/--device: expected TYPE=COUNT/);
    const vm = await berth('vms', 'create', 'x', '--project', 'nowhere', '--vcpus', '1', '--memory', '1GiB');
    expect(vm.err).toMatch(/INVALID_ARGUMENT:\n\s+project: unknown project 'nowhere'/);
    // The refused quota changed nothing.
    expect(await ok('projects', 'show', 'research')).toMatch(/vcpus:\s+0 \/ 4/);
  });
});
