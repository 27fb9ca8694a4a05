/**
 * Crash safety of a live migration (issue 12), table-driven over the migration's states: for each
 * state the migration service and/or the placement executor crash (as SIGKILL: nothing drained, the
 * database pool and NATS closed under the work in hand), or inventory and/or the scheduler are
 * SIGKILLed (real processes), exactly there, then start again on the same logs and durables. Inventory and the scheduler are real processes, Postgres and NATS are real, the
 * hypervisors are a simulator fleet that outlives the crashed executor. Afterwards every migration
 * has ended (completed, or failed/aborted with its destination claim given back) and the VM runs on
 * exactly one host: one domain, inventory's host and claims and the executor's record all there.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, migrationV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { eventually, infraAvailable } from '@berth/testing';
import { startCrashStack, type CrashStack, type CrashTarget, type HoldPoint } from './harness/crash-stack.ts';

type Status = 'completed' | 'failed' | 'aborted';
type Who = CrashTarget;

interface Case {
  /** The migration's state when the crash comes. */
  readonly state: string;
  readonly crash: readonly Who[];
  /** How the migration ends. */
  readonly ends: readonly Status[];
  /** Brings the migration of `vmId` to the state (returns its id); the crash follows at once. */
  readonly reach: (s: CrashStack, vmId: string) => Promise<string>;
  /** Between the crash and the restart. */
  readonly whileDown?: (s: CrashStack, vmId: string, migrationId: string) => Promise<void>;
  /** The watchdog's probe this case needs (its outcome), recorded with the attempt. */
  readonly probed?: string;
}

/** Waits until the event is in the stream, then deletes it (lost for good). */
const lose = async (s: CrashStack, stream: 'BERTH_EXECUTOR' | 'BERTH_MIGRATION', type: string, vmId: string): Promise<void> => {
  await eventually(async () => (await s.dropEvents(stream, type, vmId)) > 0, `${type} of ${vmId} published, then lost`, 30_000, 200);
};

const TERMINAL = new Set(['completed', 'failed', 'aborted']);

const migrate = async (s: CrashStack, vmId: string): Promise<string> =>
  (
    await callUnary(s.client(), 'migrateVm', {
      meta: { commandId: `migrate-${vmId}` },
      vmId,
      destinationHostId: 'auto',
      reason: 'crash test',
    })
  ).migration!.migrationId;

const statusOf = async (s: CrashStack, migrationId: string): Promise<string> => (await s.migration().migrations.load(migrationId)).status;

/** Holds the migration service at a call, starts the migration, returns once the call is reached. */
const heldAt =
  (call: HoldPoint['call'], when: HoldPoint['when']) =>
  async (s: CrashStack, vmId: string): Promise<string> => {
    const reached = s.hold.arm({ call, when, vmId });
    const id = await migrate(s, vmId);
    await reached;
    return id;
  };

const inState =
  (...states: string[]) =>
  async (s: CrashStack, vmId: string): Promise<string> => {
    const id = await migrate(s, vmId);
    await eventually(async () => states.includes(await statusOf(s, id)), `migration of ${vmId} ${states.join('/')}`, 30_000, 20);
    return id;
  };

const cases: Case[] = [
  { state: 'requested (scheduler asked)', crash: ['migration', 'executor'], ends: ['completed'], reach: heldAt('score', 'before') },
  {
    state: 'destination chosen (claim not asked)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: heldAt('beginMigration', 'before'),
  },
  {
    state: 'destination chosen (claim taken in inventory, not recorded)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: heldAt('beginMigration', 'after'),
  },
  {
    state: 'destination claimed (the executor down before it heard)',
    crash: ['migration'],
    ends: ['completed'],
    reach: async (s, vmId) => {
      await s.crash(['executor']);
      return inState('destination-claimed')(s, vmId);
    },
  },
  {
    state: 'migrating (the hypervisor finishes while both are down)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: inState('migrating'),
    whileDown: async (s, vmId) => {
      await eventually(async () => (await s.domains(vmId)).length === 1, `${vmId}'s copy finished on the hypervisor`, 30_000);
    },
  },
  {
    state: 'migrating (restarted while the copy runs)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: inState('migrating'),
  },
  {
    state: 'migrating (the executor alone)',
    crash: ['executor'],
    ends: ['completed'],
    reach: inState('migrating'),
  },
  {
    state: 'switched over (source claim not released)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: heldAt('completeMigration', 'before'),
  },
  {
    state: 'switched over (source released in inventory, not recorded)',
    crash: ['migration'],
    ends: ['completed'],
    reach: heldAt('completeMigration', 'after'),
  },
  { state: 'source released (completed)', crash: ['migration', 'executor'], ends: ['completed'], reach: inState('completed') },
  {
    state: 'attempt failed (destination claim being released)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: async (s, vmId) => {
      s.fleet.injectMigrationFailure({ failure: 'mid-way', vmId, atFraction: 0.3 });
      return heldAt('abortMigration', 'before')(s, vmId);
    },
  },
  {
    state: 'migrating (both hypervisors lose the domain while everything is down)',
    crash: ['migration', 'executor'],
    ends: ['failed', 'completed'],
    reach: inState('migrating'),
    whileDown: async (s, vmId) => {
      const [left] = await eventually(async () => {
        const d = await s.domains(vmId);
        return d.length === 1 && d;
      }, `${vmId}'s copy finished on the hypervisor`);
      const driver = s.fleet.driver(`sim://${left!.hostId}`);
      await driver.destroy(vmId);
      await driver.undefine(vmId);
    },
  },
  {
    state: 'migrating (the switch-over report lost while the migration service is down: the watchdog)',
    crash: ['migration'],
    ends: ['completed'],
    probed: 'switched-over',
    reach: inState('migrating'),
    whileDown: async (s, vmId) => {
      await eventually(async () => {
        const ex = await s.executor().vms.load(vmId);
        return ex.status === 'running' && ex.migration === undefined;
      }, `the executor recorded ${vmId}'s switch-over`);
      await lose(s, 'BERTH_EXECUTOR', 'VmMigrated', vmId);
    },
  },
  {
    state: 'destination claimed (the command lost for good while the executor is down: the watchdog)',
    crash: ['executor'],
    ends: ['completed'],
    probed: 'not-running',
    reach: async (s, vmId) => {
      await s.crash(['executor']);
      return inState('destination-claimed')(s, vmId);
    },
    whileDown: (s, vmId) => lose(s, 'BERTH_MIGRATION', 'DestinationClaimed', vmId),
  },
  {
    state: 'cancelled while migrating (aborting)',
    crash: ['migration', 'executor'],
    ends: ['aborted', 'completed'],
    reach: async (s, vmId) => {
      const id = await inState('migrating')(s, vmId);
      await callUnary(s.client(), 'cancelMigration', { meta: { commandId: `cancel-${vmId}` }, migrationId: id, reason: 'crash test' });
      return id;
    },
  },
  // Inventory and the scheduler: real processes, SIGKILLed at the steps that call them (a held call's
  // answer is lost with the process), then started again on their ports, database and durables.
  {
    state: 'requested (the scheduler answered, the answer lost with it)',
    crash: ['scheduler'],
    ends: ['completed'],
    reach: heldAt('score', 'after'),
  },
  {
    state: 'destination chosen (claim taken in inventory, the answer lost with it)',
    crash: ['inventory'],
    ends: ['completed'],
    reach: heldAt('beginMigration', 'after'),
  },
  {
    state: 'migrating (inventory and the scheduler)',
    crash: ['inventory', 'scheduler'],
    ends: ['completed'],
    reach: inState('migrating'),
  },
  {
    state: 'switched over (source released in inventory, the answer lost with it)',
    crash: ['inventory'],
    ends: ['completed'],
    reach: heldAt('completeMigration', 'after'),
  },
  {
    state: 'attempt failed (destination claim released in inventory, the answer lost with it)',
    crash: ['inventory'],
    ends: ['completed'],
    reach: async (s, vmId) => {
      s.fleet.injectMigrationFailure({ failure: 'mid-way', vmId, atFraction: 0.3 });
      return heldAt('abortMigration', 'after')(s, vmId);
    },
  },
  {
    state: 'migrating (all four at once)',
    crash: ['migration', 'executor', 'inventory', 'scheduler'],
    ends: ['completed'],
    reach: inState('migrating'),
  },
];

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('a migration survives a crash at each of its states', () => {
  let s: CrashStack;
  beforeAll(async () => {
    s = await startCrashStack('migcrash', ['h1', 'h2', 'h3']);
  }, 120_000);
  afterAll(async () => {
    await s?.stop();
  }, 60_000);

  it.each(cases.map((c, i) => [c.state, c.crash.join('+'), i, c] as const))(
    'crash in %s (%s)',
    async (_state, _who, i, c) => {
      const vmId = `crash-${i}`;
      await s.compose(vmId);
      const source = (await s.getVm(vmId)).hostId;
      const migrationId = await c.reach(s, vmId);
      await s.crash(c.crash);
      await c.whileDown?.(s, vmId, migrationId);
      await s.restart();

      const status = await eventually(
        async () => {
          const st = await statusOf(s, migrationId);
          return TERMINAL.has(st) ? st : undefined;
        },
        `migration of ${vmId} ended`,
        150_000,
      );
      // An unexpected end says why (the migration as its log has it: attempts and reasons).
      const why = async (): Promise<string> => JSON.stringify(await s.migration().migrations.load(migrationId)).slice(0, 3000);
      if (!c.ends.includes(status as Status)) expect.fail(`ended ${status}, expected ${c.ends.join(' or ')}: ${await why()}`);
      // The VM runs on exactly one host, and every record agrees on which.
      const settled = await eventually(
        async () => {
          const vm = await s.getVm(vmId);
          const domains = await s.domains(vmId);
          const claims = await Promise.all(s.hosts.map(async (h) => ((await s.claimsOf(h)).includes(vmId) ? [h] : [])));
          const ex = await s.executor().vms.load(vmId);
          const view = {
            status: inventoryV1.VmStatus[vm.status],
            moving: vm.migrationId,
            hostId: vm.hostId,
            claims: claims.flat(),
            domains,
            executor: ex.status === 'running' ? { hostId: ex.location.hostId, migrating: ex.migration !== undefined } : ex.status,
          };
          const one =
            view.status === 'VM_STATUS_RUNNING' &&
            view.moving === '' &&
            view.claims.length === 1 &&
            view.claims[0] === vm.hostId &&
            domains.length === 1 &&
            domains[0]?.hostId === vm.hostId &&
            domains[0].state === 'running' &&
            typeof view.executor === 'object' &&
            view.executor.hostId === vm.hostId &&
            !view.executor.migrating;
          return one ? view : undefined;
        },
        `${vmId} on exactly one host`,
        60_000,
      ).catch(async (e: unknown) => {
        const vm = await s.getVm(vmId);
        throw new Error(
          `${String(e)}: inventory ${inventoryV1.VmStatus[vm.status]} on ${vm.hostId} (moving ${vm.migrationId || '-'}), domains ${JSON.stringify(await s.domains(vmId))}`,
        );
      });
      if (status === 'completed') expect(settled.hostId).not.toBe(source);
      else expect(settled.hostId).toBe(source);
      if (c.probed !== undefined) {
        const m = await s.migration().migrations.load(migrationId);
        const probes = m.status === 'absent' ? [] : m.attempts.flatMap((a) => a.probes ?? []);
        expect(probes.map((p) => p.outcome)).toContain(c.probed);
        for (const p of probes) expect(p.silentMillis).toBeGreaterThanOrEqual(8000);
      }
      const answer = (await callUnary(s.client(), 'getMigration', { migrationId })).migration!;
      expect(migrationV1.MigrationStatus[answer.status]).toBe(`MIGRATION_STATUS_${status.toUpperCase()}`);
      if (c.probed !== undefined) {
        // GetMigration carries the probes with their attempt, and `berth migrations show` prints them.
        const probes = answer.attempts.flatMap((a) => a.probes);
        expect(probes.map((p) => p.outcome)).toContain(c.probed);
        for (const p of probes) {
          expect(Date.parse(p.at)).not.toBeNaN();
          expect(p.silentMillis).toBeGreaterThanOrEqual(8000);
        }
        const out: string[] = [];
        const env = { ...process.env, BERTH_MIGRATION_ADDR: `127.0.0.1:${s.migration().port}` };
        const code = await runCli(['migrations', 'show', migrationId], { env, io: { stdout: (t) => out.push(t), stderr: () => {} } });
        expect(code).toBe(0);
        expect(out.join('\n')).toMatch(new RegExp(`probed \\S+ after \\d+ s of silence: ${c.probed}`));
      }
    },
    240_000,
  );
});
