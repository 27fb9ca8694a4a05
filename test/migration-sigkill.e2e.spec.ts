/**
 * Crash safety of a live migration (issue 12) with every service a real process: the migration
 * service, the placement executor, inventory and the scheduler run as processes and are SIGKILLed at
 * a migration state, then started again on their ports, logs and durables. The hypervisors are a
 * simulator daemon, a process of its own (EXECUTOR_SIMULATOR_URL), so a killed executor's domains and
 * migration jobs go on as a real host's do. Kill points are deterministic: the migration service held
 * in a call to inventory (a gRPC proxy in front of it), or the copy stalled half-way on the hypervisor
 * (the simulator's injected `stall`) while the executor is inside its `migrate` call. Afterwards the
 * migration has ended and the VM runs on exactly one host: one domain on the hypervisors, inventory's
 * host and claims, the executor's log all agree. (test/migration-crash.e2e.spec.ts covers every state
 * with the executor and the migration service crashed in-process.)
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1, migrationV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { eventually, infraAvailable } from '@berth/testing';
import { startProcessCrashStack, type CrashTarget, type HoldPoint, type ProcessCrashStack } from './harness/process-crash-stack.ts';

type Status = 'completed' | 'failed' | 'aborted';
type S = ProcessCrashStack;

interface Case {
  /** The migration's state when the crash comes. */
  readonly state: string;
  readonly crash: readonly CrashTarget[];
  /** How the migration ends. */
  readonly ends: readonly Status[];
  /** Brings the migration of `vmId` to the state (returns its id); the crash follows at once. */
  readonly reach: (s: S, vmId: string) => Promise<string>;
  /** Between the crash and the restart. */
  readonly whileDown?: (s: S, vmId: string, migrationId: string) => Promise<void>;
  /** The watchdog's probe this case needs (its outcome), recorded with the attempt. */
  readonly probed?: string;
}

const M = migrationV1.MigrationStatus;
const statusName = (st: migrationV1.MigrationStatus): string =>
  migrationV1.MigrationStatus[st].replace('MIGRATION_STATUS_', '').toLowerCase().replaceAll('_', '-');
const TERMINAL = new Set(['completed', 'failed', 'aborted']);

const migrate = async (s: S, vmId: string): Promise<string> =>
  (
    await callUnary(s.client, 'migrateVm', {
      meta: { commandId: `migrate-${vmId}` },
      vmId,
      destinationHostId: 'auto',
      reason: 'crash test',
    })
  ).migration!.migrationId;

const statusOf = async (s: S, migrationId: string): Promise<string> => statusName((await s.migration(migrationId)).status);

/** Holds the migration service in a call, starts the migration, returns once the call is reached. */
const heldAt =
  (call: HoldPoint['call'], when: HoldPoint['when']) =>
  async (s: S, vmId: string): Promise<string> => {
    const reached = s.hold.arm({ call, when, vmId });
    const id = await migrate(s, vmId);
    await reached;
    return id;
  };

/**
 * The copy stalled half-way on the hypervisor (the executor inside its `migrate` call, the job
 * alive on the source) and the migration service says migrating. Released after the restart (or
 * earlier, by a case's `whileDown`).
 */
const stalledMigrating = async (s: S, vmId: string): Promise<string> => {
  await s.sim.injectMigrationFailure({ failure: 'stall', vmId, atFraction: 0.5 });
  const id = await migrate(s, vmId);
  await eventually(async () => (await s.sim.stalled()).includes(vmId), `${vmId}'s copy stalled half-way`, 30_000, 20);
  await eventually(async () => (await statusOf(s, id)) === 'migrating', `migration of ${vmId} migrating`, 30_000, 20);
  return id;
};

// The states where a SIGKILL of the migration service and the executor as processes is proven so
// far (test/migration-crash.e2e.spec.ts covers every state with in-process crashes).
const cases: Case[] = [
  {
    state: 'destination chosen (claim taken in inventory, not recorded)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: heldAt('beginMigration', 'after'),
  },
  { state: 'migrating (the executor alone, inside its migrate call)', crash: ['executor'], ends: ['completed'], reach: stalledMigrating },
  {
    state: 'switched over (source claim not released)',
    crash: ['migration', 'executor'],
    ends: ['completed'],
    reach: heldAt('completeMigration', 'before'),
  },
];

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('a migration survives a SIGKILL at each of its states', () => {
  let s: S;
  beforeAll(async () => {
    s = await startProcessCrashStack('migkill', ['h1', 'h2', 'h3']);
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
  }, 60_000);

  it.each(cases.map((c, i) => [c.state, c.crash.join('+'), i, c] as const))(
    'SIGKILL in %s (%s)',
    async (_state, _who, i, c) => {
      const vmId = `crash-${i}`;
      await s.compose(vmId);
      const source = (await s.getVm(vmId)).hostId;
      const migrationId = await c.reach(s, vmId);
      await s.crash(c.crash);
      await c.whileDown?.(s, vmId, migrationId);
      await s.restart();
      // A copy still stalled goes on now, with every process back.
      await s.sim.releaseStall(vmId);

      const status = await eventually(
        async () => {
          const st = await statusOf(s, migrationId).catch(() => undefined);
          return st !== undefined && TERMINAL.has(st) ? st : undefined;
        },
        `migration of ${vmId} ended`,
        150_000,
      );
      const answer = await s.migration(migrationId);
      // An unexpected end says why (the migration as its log has it: attempts and reasons).
      if (!c.ends.includes(status as Status))
        expect.fail(
          `ended ${status}, expected ${c.ends.join(' or ')}: ${JSON.stringify(migrationV1.Migration.toJSON(answer)).slice(0, 3000)}`,
        );
      // The VM runs on exactly one host, and every record agrees on which: inventory (host, claims),
      // the executor's log, and the hypervisors themselves (asked directly).
      const settled = await eventually(
        async () => {
          const vm = await s.getVm(vmId);
          const domains = await s.domains(vmId);
          const claims = (await Promise.all(s.hosts.map(async (h) => ((await s.claimsOf(h)).includes(vmId) ? [h] : [])))).flat();
          const ex = await s.runtime(vmId);
          const one =
            vm.status === inventoryV1.VmStatus.VM_STATUS_RUNNING &&
            vm.migrationId === '' &&
            claims.length === 1 &&
            claims[0] === vm.hostId &&
            domains.length === 1 &&
            domains[0]?.hostId === vm.hostId &&
            domains[0].state === 'running' &&
            ex.status === 'running' &&
            ex.hostId === vm.hostId &&
            ex.migrationId === '';
          return one ? { hostId: vm.hostId } : undefined;
        },
        `${vmId} on exactly one host`,
        60_000,
      ).catch(async (e: unknown) => {
        const vm = await s.getVm(vmId);
        const ex = await s.runtime(vmId);
        throw new Error(
          `${String(e)}: inventory ${inventoryV1.VmStatus[vm.status]} on ${vm.hostId} (moving ${vm.migrationId || '-'}), ` +
            `executor ${ex.status} on ${ex.hostId} (moving ${ex.migrationId || '-'}), domains ${JSON.stringify(await s.domains(vmId))}`,
        );
      });
      if (status === 'completed') expect(settled.hostId).not.toBe(source);
      else expect(settled.hostId).toBe(source);
      // No destination claim left anywhere: no other VM's host holds this one.
      for (const h of s.hosts) if (h !== settled.hostId) expect(await s.claimsOf(h)).not.toContain(vmId);
      expect(answer.status).toBe(M[`MIGRATION_STATUS_${status.toUpperCase()}` as keyof typeof M]);
      if (c.probed !== undefined) {
        // GetMigration carries the probes with their attempt, and `berth migrations show` prints them.
        const probes = answer.attempts.flatMap((a) => a.probes);
        expect(probes.map((p) => p.outcome)).toContain(c.probed);
        for (const p of probes) {
          expect(Date.parse(p.at)).not.toBeNaN();
          expect(p.silentMillis).toBeGreaterThanOrEqual(8000);
        }
        const out: string[] = [];
        const env = { ...process.env, BERTH_MIGRATION_ADDR: s.migrationAddress };
        const code = await runCli(['migrations', 'show', migrationId], { env, io: { stdout: (t) => out.push(t), stderr: () => {} } });
        expect(code).toBe(0);
        expect(out.join('\n')).toMatch(new RegExp(`probed \\S+ after \\d+ s of silence: ${c.probed}`));
      }
    },
    240_000,
  );
});
