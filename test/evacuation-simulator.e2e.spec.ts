import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, type migrationV1, modelV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { ack, startConsumer } from '@berth/messaging';
import { connectTestNats, eventually, infraAvailable } from '@berth/testing';
import { deadLetters, streamMessages } from './harness/jetstream-audit.ts';
import { startSimulatorStack, type SimulatorStack } from './harness/simulator-stack.ts';

const HS = modelV1.HostState;

/**
 * Maintenance end to end on the simulator (inventory and scheduler as processes, executor and
 * migration service in-process on one simulator fleet, real Postgres and NATS): a host with a plain
 * VM, a pinned high-performance VM (manual only: it moves, with the warning) and a `none` VM (a
 * blocker until the operator stops it; then it moves cold and the host reaches MAINTENANCE); and
 * maintenance set in inventory starting the drain by itself, cancelled back to the previous state.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('maintenance evacuation on the simulator', () => {
  let s: SimulatorStack;
  beforeAll(async () => {
    s = await startSimulatorStack('evacsim', { hosts: ['h1', 'h2', 'h3', 'h4'], migrationEnv: { MIGRATION_EVACUATION_RETRY: '1s' } });
  });
  afterAll(async () => {
    await s?.stop();
  });

  /** `berth ARGS` in this process against the stack: exit code, standard output, progress lines. */
  const berth = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    // The test's own TLS settings (BERTH_TLS_*, in TLS mode) with the stack's addresses.
    const env = { ...process.env, BERTH_INVENTORY_ADDR: s.inventory.address, BERTH_MIGRATION_ADDR: `127.0.0.1:${s.migration.port}` };
    const code = await runCli(argv, { env, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  /** Composes the VMs on `hostId` alone: the other enabled hosts take no new VMs meanwhile. */
  const composeOn = async (hostId: string, vms: [string, Partial<modelV1.VmSpec>][]) => {
    const others = [];
    for (const h of s.hosts) if (h !== hostId && (await s.hostState(h)) === HS.HOST_STATE_ENABLED) others.push(h);
    for (const h of others) await s.setHostState(h, HS.HOST_STATE_NO_SCHEDULING);
    for (const [vmId, spec] of vms) expect((await s.compose(vmId, spec)).hostId).toBe(hostId);
    for (const h of others) await s.setHostState(h, HS.HOST_STATE_ENABLED);
  };
  type Evacuation = NonNullable<migrationV1.GetEvacuationResponse['evacuation']>;
  /** Waits for the host's evacuation to satisfy `ok` (none yet, NOT_FOUND, is waited for too). */
  const evacuation = async (hostId: string, what: string, ok: (e: Evacuation) => boolean, timeout = 120_000) => {
    let last: Evacuation | undefined;
    try {
      return await eventually(
        async () => {
          last = await callUnary(s.client, 'getEvacuation', { hostId }).then(
            (r) => r.evacuation,
            (err: { code?: number }) => {
              if (err.code === 5) return undefined;
              throw err;
            },
          );
          return last && ok(last) ? last : undefined;
        },
        what,
        timeout,
      );
    } catch (err) {
      // What the drain last looked like says why it did not get there.
      throw new Error(`${(err as Error).message}; the evacuation last read: ${JSON.stringify(last)}`, { cause: err });
    }
  };

  it('plans (warning, blocker, priority order), drains what may move, waits on the none VM, and completes once it is stopped (cold move)', async () => {
    await composeOn('h1', [
      ['plain', { priority: 1 }],
      ['pinned-hp', { priority: 10, highPerformance: true, passthroughCpu: true }],
      ['stuck', { priority: 5, migrationMode: modelV1.MigrationMode.MIGRATION_MODE_NONE }],
    ]);
    expect((await s.getVm('pinned-hp')).spec!.migrationMode).toBe(modelV1.MigrationMode.MIGRATION_MODE_MANUAL);

    const plan = await eventually(
      async () => {
        // The service's fleet view follows the snapshot bucket: until it has seen h2-h4 enabled
        // again, every VM is (rightly) a blocker with "no destination fits". And ListVms reads
        // inventory's read model, which may still have `stuck` starting (a "busy" blocker).
        const p = (await callUnary(s.client, 'planEvacuation', { hostId: 'h1' })).plan!;
        return p.moves.length === 2 && p.blockers.length === 1 && !/retries when it settles/.test(p.blockers[0]!.remedy) ? p : undefined;
      },
      'the plan to see the three VMs and the enabled destinations',
      30_000,
    );
    expect(plan.moves.map((m) => m.vmId)).toEqual(['pinned-hp', 'plain']);
    expect(plan.moves[0]!.warning).toMatch(/performance may decrease/);
    expect(plan.blockers.map((b) => b.vmId)).toEqual(['stuck']);
    expect(plan.blockers[0]!.remedy).toMatch(/change its migration mode/);
    const dry = await berth('hosts', 'drain', 'h1', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.out).toMatch(/^drain h1: 2 to move \(4 GiB\), 1 blocked, 2 at once/);
    expect(dry.out).toMatch(/warning: pinned-hp: .*performance may decrease/);
    expect(dry.out).toMatch(/blocked: stuck: .*migration mode is none/);
    expect(await s.hostState('h1')).toBe(HS.HOST_STATE_ENABLED); // planning changes nothing

    const run = await berth('hosts', 'drain', 'h1', '--json', '--command-id', 'drain-h1');
    expect(run.code).toBe(0);
    const started = JSON.parse(run.out) as { plan: { moves: unknown[] }; evacuation: { previousHostState: string } };
    expect(started.plan.moves).toHaveLength(2);
    expect(started.evacuation.previousHostState).toBe('enabled');
    const blocked = await evacuation('h1', 'the drain to move what it may and wait on the none VM', (e) => e.status === 'blocked');
    expect(blocked.moves.filter((m) => m.status === 'completed').map((m) => m.vmId)).toEqual(['pinned-hp', 'plain']);
    expect(blocked.blockedReason).toMatch(/stuck: its migration mode is none/);
    expect(blocked.nextRetryAt).not.toBe('');
    expect(await s.hostState('h1')).toBe(HS.HOST_STATE_MAINTENANCE_PREPARING);
    for (const vmId of ['pinned-hp', 'plain']) {
      const vm = await s.getVm(vmId);
      expect(vm.hostId).not.toBe('h1');
      expect(await s.domainOn(vmId)).toEqual([vm.hostId]);
    }
    expect((await s.getVm('stuck')).hostId).toBe('h1');

    // The operator stops the none VM: the drain moves it cold (defined on the destination, claims
    // moved, still stopped) and the host reaches MAINTENANCE.
    await callUnary(s.inv, 'stopVm', { meta: { commandId: 'stop-stuck' }, vmId: 'stuck', force: true });
    // `berth hosts drain --watch` joins the drain under way and follows it to its end.
    const watched = await berth('hosts', 'drain', 'h1', '--watch');
    expect(watched.code).toBe(0);
    expect(watched.out).toMatch(/^evacuation h1#1 of h1: completed/);
    expect(watched.out).toMatch(/stuck\s+completed/);
    const done = await evacuation('h1', 'the drain to complete after the stop', (e) => e.status === 'completed', 60_000);
    expect(done.moves.find((m) => m.vmId === 'stuck')?.status).toBe('completed');
    await eventually(async () => ((await s.hostState('h1')) === HS.HOST_STATE_MAINTENANCE ? true : undefined), 'h1 in MAINTENANCE', 30_000);
    const stuck = await s.getVm('stuck');
    expect(stuck.status).toBe(inventoryV1.VmStatus.VM_STATUS_STOPPED);
    expect(stuck.hostId).not.toBe('h1');
    expect(stuck.migrationId).toBe('');
    expect(await s.domainOn('stuck', 'shut-off')).toEqual([stuck.hostId]);
    expect(await s.fleet.driver('sim://h1').state('stuck')).toBeUndefined();
    for (const h of s.hosts) expect((await s.claimsOf(h)).includes('stuck'), `claim of stuck on ${h}`).toBe(h === stuck.hostId);
    expect(await s.claimsOf('h1')).toEqual([]);
  });

  it('maintenance set in inventory starts the drain by itself; a cancel puts the host back as it was', async () => {
    await composeOn('h2', [
      ['plain-2', { priority: 1 }],
      ['stuck-2', { migrationMode: modelV1.MigrationMode.MIGRATION_MODE_NONE }],
    ]);
    await s.setHostState('h2', HS.HOST_STATE_MAINTENANCE);
    // blocked on stuck-2 once plain-2 has moved (the drain may report the blocker before that move ends)
    const blocked = await evacuation(
      'h2',
      'the drain started by the state change to move plain-2 and wait on stuck-2',
      (e) => e.status === 'blocked' && e.moves.some((m) => m.vmId === 'plain-2' && m.status === 'completed'), // a failed first try is retried
    );
    expect(blocked.previousHostState).toBe('enabled');
    expect(blocked.blockedReason).toMatch(/stuck-2: its migration mode is none/);
    expect((await s.getVm('plain-2')).hostId).not.toBe('h2');

    const cancelled = (
      await callUnary(s.client, 'cancelEvacuation', { meta: { commandId: 'cancel-h2' }, hostId: 'h2', abortRunning: true })
    ).evacuation!;
    expect(['cancelling', 'cancelled']).toContain(cancelled.status);
    await eventually(async () => ((await s.hostState('h2')) === HS.HOST_STATE_ENABLED ? true : undefined), 'h2 back to enabled', 30_000);
    expect((await s.getVm('stuck-2')).hostId).toBe('h2');
  });

  it('taking a host out of maintenance cancels its drain, and the host keeps the state the operator set', async () => {
    // h2 still holds stuck-2 (mode none): a new drain waits on it
    await s.setHostState('h2', HS.HOST_STATE_MAINTENANCE);
    const blocked = await evacuation('h2', 'a new drain of h2 waiting on stuck-2', (e) => e.status === 'blocked');
    expect(blocked.previousHostState).toBe('enabled');
    await s.setHostState('h2', HS.HOST_STATE_DISABLED);
    const ended = await evacuation('h2', 'the drain cancelled by the state change', (e) => e.status === 'cancelled', 30_000);
    expect(ended.evacuationId).toBe(blocked.evacuationId);
    // nothing put back: h2 stays as the operator set it
    expect(await s.hostState('h2')).toBe(HS.HOST_STATE_DISABLED);
    expect((await s.getVm('stuck-2')).hostId).toBe('h2');
    await s.setHostState('h2', HS.HOST_STATE_ENABLED);
  });

  it("lets every evacuation event the drains published through a consumer's edge (the catalog's schemas)", async () => {
    const nc = await connectTestNats();
    const seen = new Set<string>();
    let handled = 0;
    const consumer = await startConsumer({
      nc,
      prefix: s.prefix,
      stream: 'BERTH_MIGRATION',
      durable: 'test-evacuation-edge',
      filterSubject: 'berth.migration.evacuation.>',
      handle: async (env) => {
        seen.add(env.type);
        handled++;
        return ack();
      },
    });
    try {
      const published = (await streamMessages(nc, `${s.prefix.toUpperCase()}_BERTH_MIGRATION`)).filter((m) =>
        m.subject.startsWith(`${s.prefix}.berth.migration.evacuation.`),
      ).length;
      // The relay publishes after the log records: the cancellation of the test above may still be on its way.
      await eventually(
        async () => (handled >= published && seen.has('EvacuationCancelled') ? true : undefined),
        `the ${published} evacuation events handled, the cancellation among them`,
        30_000,
      );
      // Both drains above: started, moves started and ended, waiting on a blocker, completed, cancelled.
      for (const t of ['EvacuationStarted', 'EvacuationMoveStarted', 'EvacuationMoveEnded', 'EvacuationWaiting', 'EvacuationCompleted']) {
        expect(seen, t).toContain(t);
      }
      expect(seen).toContain('EvacuationCancelled');
      expect((await deadLetters(nc, s.prefix)).filter((d) => d.durable === 'test-evacuation-edge')).toEqual([]);
    } finally {
      await consumer.stop();
      await nc.close();
    }
  });

  it('names the bad field', async () => {
    await expect(callUnary(s.client, 'planEvacuation', { hostId: '' })).rejects.toMatchObject({
      code: 3,
      details: expect.stringMatching(/hostId/),
    });
  });
});
