import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, migrationV1, modelV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callServerStream, callUnary } from '@berth/grpc-kit';
import { eventually, infraAvailable } from '@berth/testing';
import { startSimulatorStack, type SimulatorStack } from './harness/simulator-stack.ts';

const HOSTS = ['h1', 'h2', 'h3', 'h4'];
const S = migrationV1.MigrationStatus;

/**
 * Live migration end to end on the simulator: inventory and the scheduler as processes, the
 * executor and the migration service in this process (sharing the simulator fleet, so failures can
 * be injected), real Postgres and NATS. Each case ends with the VM running on exactly one host and
 * its claims where it runs.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('live migration on the simulator', () => {
  let s: SimulatorStack;
  let client: SimulatorStack['client'];
  beforeAll(async () => {
    s = await startSimulatorStack('migsim', {
      hosts: HOSTS,
      migrationEnv: {
        MIGRATION_POOL_POLICIES: JSON.stringify({
          gold: { maxDowntimeMillis: 250, autoConverge: true, noProgressTimeoutSeconds: 40, maxAttempts: 2 },
        }),
      },
    });
    client = s.client;
  });
  afterAll(async () => {
    await s?.stop();
  });

  const getVm = (vmId: string) => s.getVm(vmId);
  const claimsOf = (hostId: string) => s.claimsOf(hostId);
  /** The hosts whose hypervisor runs the VM's domain. */
  const runningOn = (vmId: string) => s.domainOn(vmId);
  const compose = (vmId: string, allowedHosts: string[]) => s.compose(vmId, { allowedHosts });
  const migrate = (vmId: string, to: string, policy?: Partial<migrationV1.MigrationPolicy>) =>
    callUnary(client, 'migrateVm', {
      meta: { commandId: `migrate-${vmId}-${to}` },
      vmId,
      destinationHostId: to,
      reason: 'test',
      ...(policy ? { policy: migrationV1.MigrationPolicy.fromPartial(policy) } : {}),
    });
  const ended = (migrationId: string) =>
    eventually(
      async () => {
        const m = (await callUnary(client, 'getMigration', { migrationId })).migration!;
        return [
          S.MIGRATION_STATUS_COMPLETED,
          S.MIGRATION_STATUS_FAILED,
          S.MIGRATION_STATUS_ABORTED,
          S.MIGRATION_STATUS_POSTCOPY_PAUSED,
        ].includes(m.status)
          ? m
          : undefined;
      },
      `migration ${migrationId} to end`,
      90_000,
    );
  /** The VM runs on exactly one host, inventory places it there, holds exactly that claim, and no migration. */
  const settledOn = async (vmId: string, hostId: string, hosts: readonly string[] = HOSTS) => {
    await eventually(
      async () => {
        const vm = await getVm(vmId);
        return vm.hostId === hostId && vm.migrationId === '' ? vm : undefined;
      },
      `${vmId} recorded on ${hostId}`,
      30_000,
    );
    const running: string[] = [];
    for (const h of hosts) if ((await s.fleet.driver(`sim://${h}`).state(vmId)) === 'running') running.push(h);
    expect(running).toEqual([hostId]);
    for (const h of hosts) expect((await claimsOf(h)).includes(vmId), `claim of ${vmId} on ${h}`).toBe(h === hostId);
  };

  /** `berth ARGS` in this process against the stack: exit code, standard output, standard error. */
  const berth = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    // The test's own TLS settings (BERTH_TLS_*, in TLS mode) with the stack's addresses.
    const env = { ...process.env, BERTH_INVENTORY_ADDR: s.inventory.address, BERTH_MIGRATION_ADDR: `127.0.0.1:${s.migration.port}` };
    const code = await runCli(argv, { env, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };

  it('moves a running VM to the host named, claims follow, events tell the steps', async () => {
    await compose('vm-a', ['h1', 'h2']);
    const source = (await getVm('vm-a')).hostId;
    const target = source === 'h1' ? 'h2' : 'h1';
    // a named host that cannot take the VM is refused (FAILED_PRECONDITION) with the filter's reason, nothing recorded
    await expect(migrate('vm-a', 'h3')).rejects.toMatchObject({
      code: 9,
      details: "host h3 cannot take vm-a: allowed-hosts: h3 is not among the VM's allowed hosts",
    });
    await expect(migrate('vm-a', 'no such host!')).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/^destinationHostId: must be a host id/),
    });
    expect((await callUnary(client, 'listMigrations', { vmId: 'vm-a', hostId: '', activeOnly: false, limit: 0 })).migrations).toEqual([]);
    const { migration } = await migrate('vm-a', target);
    const done = await ended(migration!.migrationId);
    expect(done).toMatchObject({ status: S.MIGRATION_STATUS_COMPLETED, sourceHostId: source, destinationHostId: target });
    await settledOn('vm-a', target);
    const watched: string[] = [];
    for await (const r of callServerStream(client, 'watchMigration', {
      migrationId: migration!.migrationId,
      fromPosition: 0,
    }))
      watched.push(r.event!.type);
    expect(watched).toEqual(
      expect.arrayContaining([
        'MigrationRequested',
        'DestinationChosen',
        'DestinationClaimed',
        'MigrationCopyStarted',
        'SwitchedOver',
        'SourceReleased',
        'MigrationCompleted',
      ]),
    );
    const dests = await callUnary(client, 'listMigrationDestinations', { vmId: 'vm-a', limit: 0 });
    expect(dests.destinations.map((d) => d.hostId)).toEqual([source]);
    expect(dests.summary).toMatch(/^1\/4 hosts can take vm-a: /);
  });

  it('destination define fails: retried on another host, which completes', async () => {
    await compose('vm-b', ['h1', 'h2', 'h3']);
    const source = (await getVm('vm-b')).hostId;
    s.fleet.injectMigrationFailure({ failure: 'destination-define', vmId: 'vm-b' });
    const { migration } = await migrate('vm-b', 'auto');
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_COMPLETED);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['failed', 'completed']);
    expect(done.attempts[1]!.destinationHostId).not.toBe(done.attempts[0]!.destinationHostId);
    expect(done.attempts[1]!.destinationHostId).not.toBe(source);
    await settledOn('vm-b', done.destinationHostId);
  });

  it('fails mid-way on every destination: fails after 3 attempts with every reason, the VM stays on the source', async () => {
    await compose('vm-c', []);
    const source = (await getVm('vm-c')).hostId;
    s.fleet.injectMigrationFailure({ failure: 'mid-way', vmId: 'vm-c', count: 3 });
    const { migration } = await migrate('vm-c', 'auto');
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_FAILED);
    expect(done.attempts).toHaveLength(3);
    expect(new Set(done.attempts.map((a) => a.destinationHostId)).size).toBe(3);
    expect(done.reason).toMatch(/3 attempt\(s\) failed: #1 .*#2 .*#3 /);
    await settledOn('vm-c', source);
  });

  it('the completion budget runs out: aborted, the destination claim released, the VM stays on the source', async () => {
    await compose('vm-d', ['h3', 'h4']);
    const source = (await getVm('vm-d')).hostId;
    s.fleet.injectMigrationFailure({ failure: 'never-converges', vmId: 'vm-d', count: 5 });
    const { migration } = await migrate('vm-d', source === 'h3' ? 'h4' : 'h3', { completionBudgetSecondsPerGib: 1, maxAttempts: 1 });
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_FAILED);
    expect(done.reason).toMatch(/completion budget of 2 s/);
    await settledOn('vm-d', source);
  });

  it('the data stops moving: the no-progress timeout aborts the copy with its reason, the VM stays on the source', async () => {
    await compose('vm-s', ['h1', 'h3']);
    const source = (await getVm('vm-s')).hostId;
    s.fleet.injectMigrationFailure({ failure: 'stall', vmId: 'vm-s', atFraction: 0.3 });
    // A completion budget of minutes: only the no-progress timeout can end it.
    const { migration } = await migrate('vm-s', source === 'h1' ? 'h3' : 'h1', { noProgressTimeoutSeconds: 1, maxAttempts: 1 });
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_FAILED);
    expect(done.reason).toMatch(/no progress for 1 s/);
    expect(done.attempts.map((a) => a.outcome)).toEqual(['failed']);
    await settledOn('vm-s', source);
  });

  it('post-copy loses its connection: post-copy paused (never a silent loss), resume finishes on the destination', async () => {
    await compose('vm-e', ['h1', 'h4']);
    const source = (await getVm('vm-e')).hostId;
    const target = source === 'h1' ? 'h4' : 'h1';
    s.fleet.injectMigrationFailure({ failure: 'postcopy-connection-loss', vmId: 'vm-e' });
    const { migration } = await migrate('vm-e', target, { postCopy: true });
    const paused = await ended(migration!.migrationId);
    expect(paused.status).toBe(S.MIGRATION_STATUS_POSTCOPY_PAUSED);
    await expect(
      callUnary(client, 'cancelMigration', { meta: { commandId: 'cancel-e' }, migrationId: paused.migrationId, reason: 'x' }),
    ).rejects.toMatchObject({ code: 9 });
    // both claims held while paused: the guest lives on the destination, part of its memory on the source
    expect((await claimsOf(source)).includes('vm-e') && (await claimsOf(target)).includes('vm-e')).toBe(true);
    await callUnary(client, 'resumeMigration', { meta: { commandId: 'resume-e' }, migrationId: paused.migrationId });
    const done = await eventually(
      async () => {
        const m = (await callUnary(client, 'getMigration', { migrationId: paused.migrationId })).migration!;
        return m.status === S.MIGRATION_STATUS_COMPLETED ? m : undefined;
      },
      'resumed migration completed',
      60_000,
    );
    expect(done.destinationHostId).toBe(target);
    await settledOn('vm-e', target);
  });

  it('the guest shuts down mid-migration: the executor records the failure and the stop, the VM stays stopped on the source', async () => {
    await compose('vm-f', ['h2', 'h3']);
    const source = (await getVm('vm-f')).hostId;
    s.fleet.injectMigrationFailure({ failure: 'never-converges', vmId: 'vm-f', count: 5 });
    const { migration } = await migrate('vm-f', source === 'h2' ? 'h3' : 'h2', { maxAttempts: 1 });
    await eventually(
      async () =>
        (await callUnary(client, 'getMigration', { migrationId: migration!.migrationId })).migration!.status ===
        S.MIGRATION_STATUS_MIGRATING,
      'the copy to run',
      30_000,
    );
    await s.fleet.driver(`sim://${source}`).stop('vm-f', { gracefulTimeoutMillis: 1000 });
    const done = await ended(migration!.migrationId);
    expect(done.status).toBe(S.MIGRATION_STATUS_FAILED);
    expect(done.reason).toMatch(/guest shut down during the migration/);
    const vm = await eventually(
      async () => {
        const v = await getVm('vm-f');
        return v.status === inventoryV1.VmStatus.VM_STATUS_STOPPED && v.migrationId === '' ? v : undefined;
      },
      'inventory to record vm-f stopped (the executor recorded the stop)',
      30_000,
    );
    expect(vm.hostId).toBe(source);
    expect(await s.domainOn('vm-f', 'shut-off')).toEqual([source]);
    expect(await runningOn('vm-f')).toEqual([]);
    for (const h of HOSTS) expect((await claimsOf(h)).includes('vm-f'), `claim of vm-f on ${h}`).toBe(h === source);
    expect((await s.executor.vms.load('vm-f')).status).toBe('stopped');
  });
  it('beyond a cap a migration is QUEUED with the cap that holds it (recorded once, not per sweep), and completes once a slot frees', async () => {
    // Three VMs off h4, then all three moved to h4 at once: two take h4's inbound slots (cap 2) and stall half-way.
    await s.setHostState('h4', modelV1.HostState.HOST_STATE_NO_SCHEDULING);
    const vms = ['vm-q1', 'vm-q2', 'vm-q3'];
    for (const vm of vms) await compose(vm, []);
    await s.setHostState('h4', modelV1.HostState.HOST_STATE_ENABLED);
    // The scheduler's view follows inventory's: wait until it offers h4 again.
    await eventually(
      async () =>
        (await callUnary(client, 'listMigrationDestinations', { vmId: 'vm-q1', limit: 0 })).destinations.some((d) => d.hostId === 'h4'),
      "the scheduler's view to see h4 enabled",
      30_000,
    );
    const sources = new Map<string, string>();
    for (const vm of vms) sources.set(vm, (await getVm(vm)).hostId);
    for (const vm of vms.slice(0, 2)) s.fleet.injectMigrationFailure({ failure: 'stall', vmId: vm, atFraction: 0.5 });
    const ids: string[] = [];
    for (const vm of vms) ids.push((await migrate(vm, 'h4')).migration!.migrationId);
    await eventually(async () => s.fleet.stalled().length === 2, 'the first two copies to stall half-way', 30_000);
    expect(new Set(s.fleet.stalled())).toEqual(new Set(vms.slice(0, 2)));

    // The third waits: out of its source if the other two leave the same host, else into h4.
    const [a, b, c] = vms.map((vm) => sources.get(vm)!);
    const reason = a === c && b === c ? `host ${c} has 2 outbound migrations (cap 2)` : 'host h4 has 2 inbound migrations (cap 2)';
    const queued = (await callUnary(client, 'getMigration', { migrationId: ids[2]! })).migration!;
    expect(queued).toMatchObject({ status: S.MIGRATION_STATUS_QUEUED, reason, destinationHostId: '' });
    const listed = await eventually(
      async () => {
        const l = await callUnary(client, 'listMigrations', { vmId: 'vm-q3', hostId: '', activeOnly: true, limit: 0 });
        return l.migrations[0]?.status === S.MIGRATION_STATUS_QUEUED ? l.migrations[0] : undefined;
      },
      'the read model to show vm-q3 queued',
      30_000,
    );
    expect(listed.reason).toBe(reason);
    const cliList = await berth('migrations', 'list', '--vm', 'vm-q3');
    expect(cliList.out).toMatch(new RegExp(`^${ids[2]}  vm-q3 +${c} +-> - +queued \\(${reason.replace(/[()]/g, '\\$&')}\\)$`));
    const cliShow = await berth('migrations', 'show', ids[2]!);
    expect(cliShow.out).toContain(`migration ${ids[2]}: VM vm-q3 ${c} -> (choosing)  queued`);
    expect(cliShow.out).toContain(`  reason: ${reason}`);
    // The sweep (every 2 s) asks for a slot again and again: the log does not grow while the reason stands.
    const version = queued.version;
    await new Promise((r) => setTimeout(r, 4_500));
    expect((await callUnary(client, 'getMigration', { migrationId: ids[2]! })).migration!).toMatchObject({
      status: S.MIGRATION_STATUS_QUEUED,
      version,
    });

    for (const vm of vms.slice(0, 2)) s.fleet.releaseStall(vm);
    for (const id of ids) expect((await ended(id)).status).toBe(S.MIGRATION_STATUS_COMPLETED);
    for (const vm of vms) await settledOn(vm, 'h4');
    const watched: { type: string; reason?: string }[] = [];
    for await (const r of callServerStream(client, 'watchMigration', { migrationId: ids[2]!, fromPosition: 0 }))
      watched.push({ type: r.event!.type, ...(r.event!.type === 'MigrationQueued' && { reason: r.migration!.reason }) });
    expect(watched.slice(0, 3)).toEqual([
      { type: 'MigrationRequested' },
      { type: 'MigrationQueued', reason },
      { type: 'DestinationChosen' },
    ]);
    expect(watched.at(-1)).toEqual({ type: 'MigrationCompleted' });
    expect(watched.filter((e) => e.type === 'MigrationQueued')).toHaveLength(1);
    // The first two never waited.
    for (const id of ids.slice(0, 2)) {
      const types: string[] = [];
      for await (const r of callServerStream(client, 'watchMigration', { migrationId: id, fromPosition: 0 })) types.push(r.event!.type);
      expect(types).not.toContain('MigrationQueued');
    }
  });

  it('the CLI: berth vms migrate (--wait), berth migrations list|show|cancel, berth balance --dry-run and explain', async () => {
    await compose('vm-g', ['h2', 'h3']);
    const source = (await getVm('vm-g')).hostId;
    const target = source === 'h2' ? 'h3' : 'h2';
    const moved = await berth('vms', 'migrate', 'vm-g', '--to', target, '--wait', '--command-id', 'cli-migrate-g');
    expect(moved.code, moved.err).toBe(0);
    expect(moved.out).toMatch(new RegExp(`^migration (\\S+): VM vm-g ${source} -> ${target}  completed`));
    const id = /^migration (\S+):/.exec(moved.out)![1]!;
    await settledOn('vm-g', target);

    // The list reads the read model, which follows the log (GetMigration, which --wait polls, reads the log itself).
    const listed = await eventually(
      async () => {
        const l = await berth('migrations', 'list', '--vm', 'vm-g');
        return l.code !== 0 || / completed$/.test(l.out) ? l : undefined;
      },
      'the read model to list the migration completed',
      30_000,
    );
    expect(listed.code, listed.err).toBe(0);
    expect(listed.out).toMatch(new RegExp(`^${id}  vm-g +${source} +-> ${target} +completed$`));
    const shown = await berth('migrations', 'show', id);
    expect(shown.code, shown.err).toBe(0);
    expect(shown.out).toContain(`migration ${id}: VM vm-g ${source} -> ${target}  completed`);
    expect(shown.out).toContain(`attempt 1: ${target} completed`);

    // Back to the source with a copy that never converges (the default budget is minutes): cancelled from the CLI.
    s.fleet.injectMigrationFailure({ failure: 'never-converges', vmId: 'vm-g', count: 5 });
    const back = await berth('vms', 'migrate', 'vm-g', '--to', source, '--json', '--command-id', 'cli-migrate-g-back');
    expect(back.code, back.err).toBe(0);
    const backId = (JSON.parse(back.out) as { migrationId: string }).migrationId;
    await eventually(
      async () => (await callUnary(client, 'getMigration', { migrationId: backId })).migration!.status === S.MIGRATION_STATUS_MIGRATING,
      'the copy back to run',
      30_000,
    );
    const active = await berth('migrations', 'list', '--active', '--json');
    expect((JSON.parse(active.out) as { migrationId: string }[]).map((m) => m.migrationId)).toContain(backId);
    const cancelled = await berth(
      'migrations',
      'cancel',
      backId,
      '--reason',
      'operator changed their mind',
      '--command-id',
      'cli-cancel-g',
    );
    expect(cancelled.code, cancelled.err).toBe(0);
    expect(cancelled.out).toMatch(new RegExp(`^migration ${backId}: VM vm-g ${target} -> ${source}  (aborting|aborted)`));
    const aborted = await ended(backId);
    expect(aborted.status).toBe(S.MIGRATION_STATUS_ABORTED);
    expect(aborted.reason).toMatch(/operator changed their mind/);
    await settledOn('vm-g', target);

    // The balancer: its policy and what a run would move (nothing: off by default), as a run would be recorded.
    const dry = await berth('balance', '--dry-run');
    expect(dry.code, dry.err).toBe(0);
    expect(dry.out).toMatch(/^pool default: off; high 80%, low 20%, at most 1 move\(s\) per 60 s, improvement >= 20%, cooldown 21600 s/);
    expect(dry.out).toMatch(/^dry run at \S+ \(interval\): balancing is off for pool default$/m);
    expect(dry.out).toContain('hosts:');
    for (const h of HOSTS) expect(dry.out).toMatch(new RegExp(`^${h} +\\d`, 'm'));
    // No run recorded yet: explain says so.
    const none = await berth('balance', 'explain');
    expect(none.code).not.toBe(0);
    expect(none.err).toMatch(/no run recorded yet/);
    // A run now (spread: nothing is above 80%, so no move) is recorded whole, and explain reads it back from the log.
    expect((await berth('balance', 'policy', '--mode', 'spread', '--command-id', 'cli-spread')).code).toBe(0);
    const ran = await berth('balance', '--now', '--command-id', 'cli-now-1');
    expect(ran.code, ran.err).toBe(0);
    const runId = /^run (default:\d+) at /.exec(ran.out)?.[1];
    expect(runId, ran.out).toBeDefined();
    expect((await berth('balance', 'policy', '--mode', 'off', '--command-id', 'cli-off')).code).toBe(0);
    for (const explained of [await berth('balance', 'explain'), await berth('balance', 'explain', runId!)]) {
      expect(explained.code, explained.err).toBe(0);
      expect(explained.out).toMatch(new RegExp(`^run ${runId} at \\S+ \\(manual\\): no move: no host above 80% over the last 120 s$`, 'm'));
      expect(explained.out).toContain('pool default: spread; high 80%, low 20%');
      expect(explained.out).toContain('load: allocation');
      for (const h of HOSTS) expect(explained.out).toMatch(new RegExp(`^${h} +\\d+(\\.\\d)?% .* (normal|under) +\\d`, 'm'));
    }
    // The latest run comes with the pool now (the mode is off again: no periodic pass; the run now, or a tick's check since);
    // a named run comes alone.
    const latestNow = await berth('balance', 'explain');
    expect(latestNow.out).toMatch(
      /^now: balancing is off for pool default since \S+: no periodic pass, pressure passes off; (last pass \S+ \(manual\): moved nothing, the run shown|last checked \S+: no host under pressure, nothing run, nothing recorded)$/m,
    );
    expect((await berth('balance', 'explain', runId!)).out).not.toContain('now:');
    expect(JSON.parse((await berth('balance', 'explain', '--json')).out)).toMatchObject({ runId, now: { mode: 'off' } });
    const json = JSON.parse((await berth('balance', 'explain', runId!, '--json')).out) as migrationV1.BalancerRun;
    expect(json).toMatchObject({ runId, resourcePool: 'default', trigger: 'manual', source: 'allocation' });
    expect(json.moves ?? []).toEqual([]);
    expect(json.hosts.map((h) => h.hostId).sort()).toEqual(HOSTS);
  });

  it('every RPC answers bad input with INVALID_ARGUMENT naming the field', async () => {
    const meta = (id: string) => ({ commandId: id });
    const cases: [string, Record<string, unknown>, string][] = [
      ['migrateVm', { meta: meta('bad-1'), vmId: 'no such vm!', destinationHostId: 'auto', reason: '' }, 'vmId'],
      ['migrateVm', { meta: { commandId: '' }, vmId: 'vm-a', destinationHostId: 'auto', reason: '' }, 'meta.commandId'],
      [
        'migrateVm',
        {
          meta: meta('bad-2'),
          vmId: 'vm-a',
          destinationHostId: 'auto',
          policy: migrationV1.MigrationPolicy.fromPartial({ maxAttempts: 11 }),
        },
        'policy.maxAttempts',
      ],
      ['cancelMigration', { meta: meta('bad-3'), migrationId: '', reason: '' }, 'migrationId'],
      ['resumeMigration', { meta: meta('bad-4'), migrationId: 'a b' }, 'migrationId'],
      ['getMigration', { migrationId: '' }, 'migrationId'],
      ['listMigrations', { vmId: '', hostId: '', activeOnly: false, limit: 5000 }, 'limit'],
      ['listMigrationDestinations', { vmId: '', limit: 0 }, 'vmId'],
      ['planEvacuation', { hostId: '' }, 'hostId'],
      ['startEvacuation', { meta: meta('bad-5'), hostId: 'h 1' }, 'hostId'],
      ['cancelEvacuation', { meta: meta('bad-6'), hostId: '', abortRunning: false }, 'hostId'],
      ['getEvacuation', { hostId: '' }, 'hostId'],
      ['getBalancerPolicy', { resourcePool: 'no pool!' }, 'resourcePool'],
      [
        'setBalancerPolicy',
        { meta: meta('bad-7'), policy: migrationV1.BalancerPolicy.fromPartial({ resourcePool: 'default', highThresholdPercent: 150 }) },
        'policy.highThreshold',
      ],
      ['balancerDryRun', { resourcePool: 'no pool!' }, 'resourcePool'],
      ['balancerRunNow', { meta: { commandId: '' }, resourcePool: 'default' }, 'meta.commandId'],
      ['explainBalancerRun', { resourcePool: 'default', runId: 'default-1' }, 'runId'],
    ];
    const call = callUnary as (c: typeof client, m: string, r: Record<string, unknown>) => Promise<unknown>;
    for (const [method, request, field] of cases)
      await expect(call(client, method, request), `${method} naming ${field}`).rejects.toMatchObject({
        code: 3,
        details: expect.stringContaining(`${field}: `),
      });
    const watch = async () => {
      for await (const _ of callServerStream(client, 'watchMigration', { migrationId: 'x', fromPosition: -1 })) break;
    };
    await expect(watch(), 'watchMigration naming fromPosition').rejects.toMatchObject({
      code: 3,
      details: expect.stringContaining('fromPosition: '),
    });
    // Every method of the service is covered above (WatchMigration apart).
    const covered = new Set([...cases.map(([m]) => m), 'watchMigration']);
    const methods = Object.keys(migrationV1.MigrationServiceService).filter((m) => m !== 'resumeMigration' || true);
    expect(methods.filter((m) => !covered.has(m))).toEqual([]);
  });

  it("a VM of a pool gets the pool's policy (MIGRATION_POOL_POLICIES) when the request sets none; the request's fields win", async () => {
    // Two hosts of pool gold, added to the fleet and inventory now (the cases above count four hosts).
    for (const hostId of ['g1', 'g2']) {
      s.fleet.addHost({ hostId, cpus: 16, memoryBytes: 64 * 1024 ** 3 });
      await callUnary(s.inv, 'registerHost', {
        meta: { commandId: `register-${hostId}` },
        hostId,
        spec: modelV1.HostSpec.fromPartial({
          name: hostId,
          hypervisorUri: `sim://${hostId}`,
          cpuModel: 'Cascadelake-Server',
          topology: { sockets: 1, coresPerSocket: 16, threadsPerCore: 1 },
          cpus: 16,
          memoryBytes: 64 * 1024 ** 3,
          resourcePool: 'gold',
        }),
        state: modelV1.HostState.HOST_STATE_ENABLED,
      });
    }
    await s.compose('vm-p', { resourcePool: 'gold' });
    const first = (await getVm('vm-p')).hostId;
    const other = first === 'g1' ? 'g2' : 'g1';
    const asIs = (await migrate('vm-p', other)).migration!;
    expect(asIs.policy).toMatchObject({ maxDowntimeMillis: 250, autoConverge: true, noProgressTimeoutSeconds: 40, maxAttempts: 2 });
    // Defaults where the pool says nothing.
    expect(asIs.policy).toMatchObject({ bandwidthMibps: 0, postCopy: false, completionBudgetSecondsPerGib: 150 });
    await ended(asIs.migrationId);
    await settledOn('vm-p', other, ['g1', 'g2']);
    const overridden = (await migrate('vm-p', first, { maxDowntimeMillis: 900, noProgressTimeoutSeconds: 70 })).migration!;
    expect(overridden.policy).toMatchObject({ maxDowntimeMillis: 900, noProgressTimeoutSeconds: 70, autoConverge: true, maxAttempts: 2 });
    await ended(overridden.migrationId);
    await settledOn('vm-p', first, ['g1', 'g2']);
    // A VM of no pool: pool default has no policy here, so the service's defaults.
    const plain = (await callUnary(client, 'listMigrations', { vmId: 'vm-a', hostId: '', activeOnly: false, limit: 0 })).migrations[0]!;
    expect(plain.policy).toMatchObject({ maxDowntimeMillis: 0, autoConverge: false, noProgressTimeoutSeconds: 150, maxAttempts: 3 });
  });
});
