import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase, deletePrefixedStreams, infraAvailable, natsUrl, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { runCli } from '../cli.ts';
import { startServiceProcess, stopServiceProcess, type ServiceProcess } from '../testing/service-process.ts';

/** `berth projects ...` against the real inventory process (tools never import services). */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('berth projects against inventory', () => {
  let db: TestDatabase;
  let service: ServiceProcess | undefined;
  const prefix = testSubjectPrefix('cliproj');

  async function berth(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
    const out: string[] = [];
    const err: string[] = [];
    const code = await runCli(argv, {
      env: { BERTH_INVENTORY_ADDR: service?.address },
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
    service = await startServiceProcess('inventory', 'INVENTORY_GRPC_PORT', {
      NATS_URL: natsUrl(),
      NATS_PREFIX: prefix,
      DATABASE_URL: db.url,
    });
  });

  afterAll(async () => {
    await stopServiceProcess(service);
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
