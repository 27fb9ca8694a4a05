/**
 * Crash safety of a live migration (issue 12): SIGKILL of each service at each state, as a table.
 *
 * Every service is a real process: the migration service, the placement executor, inventory and the
 * scheduler; the hypervisors are a simulator daemon, a process of its own that outlives them (a killed
 * executor's domains and migration jobs go on, as a real host's do). One plane serves the whole table.
 *
 * Rows are the migration aggregate's states (ROWS below: each row one VM, whose migration is brought
 * to that state and held there). Columns are the SIGKILLed services (ROUNDS: the migration service,
 * the executor, inventory, the scheduler, then all four at once). A round brings every row's migration
 * to its state at the same time, each held at its own step, then SIGKILLs its services once, so the
 * single kill lands on every state: the round's test is the table's column. The kill points:
 * - a call of the migration service to inventory or the scheduler held by a gRPC proxy, before it
 *   reached the service or after it went through (its answer withheld): requested, destination
 *   chosen, switched over, releasing a failed or cancelled attempt's claim, a retry choosing again;
 * - the copy stalled part-way on the hypervisor (the simulator's `stall`): migrating, the executor
 *   inside its `migrate` call (released after the restart, or while the services are down);
 * - the executor frozen (SIGSTOP) before the migration service records a claim or a cancel: destination
 *   claimed / aborting, the executor not having heard when the SIGKILL comes (thawed after the kill
 *   when it is not a victim);
 * - post-copy paused (the simulator's post-copy connection loss), resumed by the operator afterwards;
 * - completed before the kill (nothing may change).
 * Equivalences (why the columns need no more rows): a service matters at a state only through the
 * call or the work in hand there. The scheduler is called only while choosing (requested, retry
 * waiting): at the other states its SIGKILL must change nothing, which its column shows. Inventory is
 * called at every claim step (the `after` rows are the ones where its answer is lost with it); the
 * executor works from destination claimed to switched over and while aborting (its rows in the other
 * states prove that its restart leaves them alone). Rows that need one service down and another up
 * run in that column only: a switch-over report lost while only the migration service is down (its
 * watchdog asks the executor), a claim command lost while only the executor is down (the watchdog
 * again), a cancel asked while only the executor is down (the restarted executor aborts the job it
 * finds still copying), both hypervisors losing the domain while all four are down.
 * In the executor's column the rows held before the executor (requested, chosen) usually take a second
 * attempt: their claim is recorded while it is down, and a `DestinationClaimed` older than the start
 * window (5 s here) is refused as too late, so the migration service retries elsewhere.
 *
 * After each round's restart every migration ends as its row says and the invariants hold for every
 * VM of the table (harness/migration-invariants.ts): inventory's read model and its log, the migration
 * log, the executor and every host's domains on the simulator daemon agree that each VM runs on exactly
 * one host, with its claims there and nowhere else, and that every claimed attempt gave its claim back
 * or completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { eventually, infraAvailable } from '@berth/testing';
import { startProcessCrashStack, type CrashTarget, type HoldPoint, type ProcessCrashStack } from './harness/process-crash-stack.ts';

type Status = 'completed' | 'failed' | 'aborted';
type S = ProcessCrashStack;

/** One column: the services SIGKILLed together. */
interface Round {
  readonly name: string;
  readonly crash: readonly CrashTarget[];
}

interface Row {
  /** The VM's id (one VM per row, migrated once per round). */
  readonly vm: string;
  /** The migration aggregate's state when the SIGKILL comes, and how it was held there. */
  readonly state: string;
  /** How the migration ends. */
  readonly ends: readonly Status[];
  /** In these columns only (default: every one). */
  readonly only?: (crash: readonly CrashTarget[]) => boolean;
  /** With the executor live: starts the migration and brings it to its state (or part of the way); its id. */
  readonly reach?: (s: S, vm: string, round: number) => Promise<string>;
  /** With the executor frozen (SIGSTOP): the rest of the way (gets `reach`'s id, if any). */
  readonly frozen?: (s: S, vm: string, round: number, id: string | undefined) => Promise<string>;
  /** While the round's services are down. */
  readonly whileDown?: (s: S, vm: string, id: string) => Promise<void>;
  /** Once they run again (before waiting for the end). */
  readonly afterRestart?: (s: S, vm: string, id: string, round: number) => Promise<void>;
  /** The watchdog's probe this row needs (its outcome), recorded with the attempt and printed by the CLI. */
  readonly probed?: string;
  /** Its copy stays stalled after the restart (every other stall is released then). */
  readonly keepStall?: true;
}

const statusName = (st: migrationV1.MigrationStatus): string =>
  migrationV1.MigrationStatus[st].replace('MIGRATION_STATUS_', '').toLowerCase().replaceAll('_', '-');
const TERMINAL = new Set(['completed', 'failed', 'aborted']);
/** How long a row may take to reach its state (generous: on a loaded machine the watchdog may fail an attempt first). */
const REACH_MILLIS = 60_000;

const migrate = async (s: S, vmId: string, round: number, policy?: Partial<migrationV1.MigrationPolicy>): Promise<string> =>
  (
    await callUnary(s.client, 'migrateVm', {
      meta: { commandId: `migrate-${vmId}-${round}` },
      vmId,
      destinationHostId: 'auto',
      reason: 'crash table',
      ...(policy && { policy: migrationV1.MigrationPolicy.fromPartial(policy) }),
    })
  ).migration!.migrationId;

const statusOf = async (s: S, migrationId: string): Promise<string> => statusName((await s.migration(migrationId)).status);

const until = async (s: S, id: string, vm: string, ...states: string[]): Promise<string> => {
  await eventually(async () => states.includes(await statusOf(s, id)), `migration of ${vm} ${states.join('/')}`, REACH_MILLIS, 20);
  return id;
};

/** Held in a call (armed before the migration starts); resolves once the call is reached. */
const heldAt =
  (call: HoldPoint['call'], when: HoldPoint['when'], inject?: 'mid-way', also?: HoldPoint['also']) =>
  async (s: S, vm: string, round: number): Promise<string> => {
    if (inject) await s.sim.injectMigrationFailure({ failure: inject, vmId: vm, atFraction: 0.3 });
    const reached = s.hold.arm({ call, when, vmId: vm, ...(also && { also }) });
    const id = await migrate(s, vm, round);
    await reached;
    return id;
  };

/** The copy stalled half-way (the executor inside its `migrate` call) and the migration service says migrating. */
const stalled = async (s: S, vm: string, round: number): Promise<string> => {
  await s.sim.injectMigrationFailure({ failure: 'stall', vmId: vm, atFraction: 0.5 });
  const id = await migrate(s, vm, round);
  await eventually(async () => (await s.sim.stalled()).includes(vm), `${vm}'s copy stalled half-way`, REACH_MILLIS, 20);
  return until(s, id, vm, 'migrating');
};

/** CancelMigration, asked again on ABORTED (its append lost the race with progress reports every time: retry, as gRPC says). */
const cancel = (s: S, id: string, round: number): Promise<unknown> =>
  eventually(
    () =>
      callUnary(s.client, 'cancelMigration', { meta: { commandId: `cancel-${id}-${round}` }, migrationId: id, reason: 'crash table' }).then(
        () => true,
        (e: unknown) => {
          if ((e as { code?: number }).code === 10) return false;
          throw e;
        },
      ),
    `the cancel of ${id} recorded`,
    REACH_MILLIS,
    100,
  );

/** Waits until the event is in the stream, then deletes it (lost for good). */
const lose = async (s: S, stream: 'BERTH_EXECUTOR' | 'BERTH_MIGRATION', type: string, vmId: string): Promise<void> => {
  await eventually(async () => (await s.dropEvents(stream, type, vmId)) > 0, `${type} of ${vmId} published, then lost`, 30_000, 200);
};

const ALL: readonly CrashTarget[] = ['migration', 'executor', 'inventory', 'scheduler'];
const only = (t: readonly CrashTarget[]) => (crash: readonly CrashTarget[]) =>
  crash.length === t.length && t.every((x) => crash.includes(x));

const ROWS: readonly Row[] = [
  {
    vm: 'req-ask',
    state: 'requested: the scheduler not yet asked (score held before)',
    ends: ['completed'],
    reach: heldAt('score', 'before'),
  },
  {
    vm: 'req-answered',
    state: 'requested: the scheduler answered, its answer withheld (score held after)',
    ends: ['completed'],
    reach: heldAt('score', 'after'),
  },
  {
    vm: 'chosen-ask',
    state: 'destination chosen: the claim not yet asked (BeginVmMigration held before)',
    ends: ['completed'],
    reach: heldAt('beginMigration', 'before'),
  },
  {
    vm: 'chosen-taken',
    state: 'destination chosen: the claim taken in inventory, not recorded (BeginVmMigration held after)',
    ends: ['completed'],
    reach: heldAt('beginMigration', 'after'),
  },
  {
    vm: 'claimed',
    state: 'destination claimed: the executor has not heard (frozen)',
    ends: ['completed'],
    frozen: async (s, vm, round) => until(s, await migrate(s, vm, round), vm, 'destination-claimed'),
  },
  { vm: 'copying', state: 'migrating: the copy stalled half-way, released after the restart', ends: ['completed'], reach: stalled },
  {
    vm: 'copied-down',
    state: 'migrating: the copy stalled, then finishing on the hypervisor while the services are down',
    ends: ['completed'],
    reach: stalled,
    whileDown: async (s, vm) => {
      await s.sim.releaseStall(vm);
      await eventually(async () => (await s.domains(vm)).length === 1, `${vm}'s copy finished on the hypervisor`, 30_000);
    },
  },
  {
    vm: 'switched',
    state: 'switched over: the source claim not yet released (CompleteVmMigration held before)',
    ends: ['completed'],
    reach: heldAt('completeMigration', 'before'),
  },
  {
    vm: 'released',
    state: 'switched over: the source released in inventory, not recorded (CompleteVmMigration held after)',
    ends: ['completed'],
    reach: heldAt('completeMigration', 'after'),
  },
  {
    vm: 'done',
    state: 'source released: completed before the kill',
    ends: ['completed'],
    reach: async (s, vm, round) => until(s, await migrate(s, vm, round), vm, 'completed'),
  },
  {
    vm: 'fail-release',
    state: 'releasing destination: an attempt failed mid-way, its claim not yet released (AbortVmMigration held before)',
    ends: ['completed'],
    reach: heldAt('abortMigration', 'before', 'mid-way'),
  },
  {
    vm: 'fail-released',
    state: 'releasing destination: the failed attempt’s claim released in inventory, not recorded (AbortVmMigration held after)',
    ends: ['completed'],
    reach: heldAt('abortMigration', 'after', 'mid-way'),
  },
  {
    vm: 'retry',
    state: 'retry waiting: the next attempt choosing, the failed destination excluded (its score held before)',
    ends: ['completed'],
    reach: heldAt('score', 'before', 'mid-way', (r) => Array.isArray(r['excludedHosts']) && r['excludedHosts'].length >= 2),
  },
  {
    vm: 'aborting',
    state: 'aborting: cancelled while copying, the executor has not heard (frozen)',
    // The executor restarted while the copy runs finds it under way and, the cancel not yet heard
    // again, lets it finish: the migration completes instead (the VM is where the copy left it).
    ends: ['aborted', 'completed'],
    reach: stalled,
    frozen: async (s, vm, round, id) => {
      await cancel(s, id!, round);
      return until(s, id!, vm, 'aborting');
    },
  },
  {
    vm: 'cancel-release',
    state: 'releasing destination after a cancel: the copy aborted, its claim not yet released (AbortVmMigration held before)',
    ends: ['aborted'],
    reach: async (s, vm, round) => {
      const id = await stalled(s, vm, round);
      const reached = s.hold.arm({ call: 'abortMigration', when: 'before', vmId: vm });
      await cancel(s, id, round);
      await reached;
      return id;
    },
  },
  {
    vm: 'cancel-down',
    state: 'migrating: the copy stalled, cancelled while the executor is down (the restarted executor must abort the job it finds)',
    ends: ['aborted'],
    only: only(['executor']),
    reach: stalled,
    whileDown: async (s, vm, id) => {
      await cancel(s, id, 0);
      await until(s, id, vm, 'aborting');
    },
    // Never released: only the executor's abort of the hypervisor's job ends it.
    keepStall: true,
  },
  {
    vm: 'postcopy',
    state: 'post-copy paused: the connection lost after the switch-over; resumed by the operator after the restart',
    ends: ['completed'],
    reach: async (s, vm, round) => {
      await s.sim.injectMigrationFailure({ failure: 'postcopy-connection-loss', vmId: vm });
      return until(s, await migrate(s, vm, round, { postCopy: true }), vm, 'postcopy-paused');
    },
    afterRestart: async (s, vm, id, round) => {
      await eventually(
        async () =>
          callUnary(s.client, 'resumeMigration', { meta: { commandId: `resume-${vm}-${round}` }, migrationId: id }).then(
            () => true,
            () => false,
          ),
        `${vm}'s post-copy resumed`,
        30_000,
        200,
      );
    },
  },
  {
    vm: 'lost-report',
    state: 'migrating: the switch-over report lost for good while the migration service is down (its watchdog asks the executor)',
    ends: ['completed'],
    probed: 'switched-over',
    only: only(['migration']),
    reach: stalled,
    whileDown: async (s, vm, id) => {
      await s.sim.releaseStall(vm);
      await eventually(async () => {
        const ex = await s.runtime(vm);
        return ex.status === 'running' && ex.migrationId === '' && (await s.domains(vm)).length === 1;
      }, `the executor recorded ${vm}'s switch-over (${id})`);
      await lose(s, 'BERTH_EXECUTOR', 'VmMigrated', vm);
    },
  },
  {
    vm: 'lost-claim',
    state: 'destination claimed: the claim command lost for good while the executor is down (the watchdog)',
    ends: ['completed'],
    probed: 'not-running',
    only: only(['executor']),
    frozen: async (s, vm, round) => until(s, await migrate(s, vm, round), vm, 'destination-claimed'),
    whileDown: (s, vm) => lose(s, 'BERTH_MIGRATION', 'DestinationClaimed', vm),
  },
  {
    vm: 'lost-domain',
    state: 'migrating: the copy finished, then the domain lost on both hypervisors while all four are down',
    ends: ['failed', 'completed'],
    only: only(ALL),
    reach: stalled,
    whileDown: async (s, vm) => {
      await s.sim.releaseStall(vm);
      const [left] = await eventually(async () => {
        const d = await s.domains(vm);
        return d.length === 1 && d;
      }, `${vm}'s copy finished on the hypervisor`);
      const driver = s.sim.driver(`sim://${left!.hostId}`);
      await driver.destroy(vm);
      await driver.undefine(vm);
    },
  },
];

const ROUNDS: readonly Round[] = [
  { name: 'the migration service', crash: ['migration'] },
  { name: 'the executor', crash: ['executor'] },
  { name: 'inventory', crash: ['inventory'] },
  { name: 'the scheduler', crash: ['scheduler'] },
  { name: 'all four at once', crash: ALL },
];

const VMS = ROWS.map((r) => r.vm);

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('a migration survives a SIGKILL of each service at each of its states', () => {
  let s: S;
  beforeAll(async () => {
    s = await startProcessCrashStack('migkill', ['h1', 'h2', 'h3', 'h4'], {
      env: {
        // Every row's migration runs at once: the caps would hold most of them in `requested`.
        migration: {
          MIGRATION_MAX_PER_FLEET: '100',
          MIGRATION_MAX_OUTBOUND_PER_HOST: '100',
          MIGRATION_MAX_INBOUND_PER_HOST: '100',
          // An attempt failed by the short watchdog on a loaded machine must not use a row's last try up.
          MIGRATION_MAX_ATTEMPTS: '6',
        },
      },
    });
    await Promise.all(VMS.map((vm) => s.compose(vm)));
  }, 300_000);
  afterAll(async () => {
    await s?.stop();
  }, 60_000);

  it.each(ROUNDS.map((r, i) => [r.name, i, r] as const))(
    'SIGKILL of %s at every state',
    async (_name, round, r) => {
      const rows = ROWS.filter((row) => row.only?.(r.crash) ?? true);
      // Every VM at rest first: a column that failed leaves no migration behind to fail the next one.
      await eventually(
        async () => (await Promise.all(VMS.map(async (vm) => (await s.getVm(vm)).migrationId === ''))).every(Boolean),
        'every VM at rest before the column',
        120_000,
        250,
      );
      // A column that fails part-way leaves nothing held, frozen or stalled for the next one.
      const cleanUp = async (): Promise<void> => {
        s.thaw('executor');
        s.hold.proceedAll();
        await Promise.all(rows.map((row) => s.sim.releaseStall(row.vm).catch(() => 0)));
      };
      try {
        const started = Date.now();
        // Every row to its state: first those that need the executor live, then (frozen) the rest.
        const ids = new Map<string, string>();
        await Promise.all(rows.map(async (row) => row.reach && ids.set(row.vm, await row.reach(s, row.vm, round))));
        if (rows.some((row) => row.frozen)) {
          s.freeze('executor');
          await Promise.all(rows.map(async (row) => row.frozen && ids.set(row.vm, await row.frozen(s, row.vm, round, ids.get(row.vm)))));
        }
        const held = Date.now();
        await s.crash(r.crash);
        s.thaw('executor'); // when it was not a victim
        await Promise.all(rows.map(async (row) => row.whileDown?.(s, row.vm, ids.get(row.vm)!)));
        await s.restart();
        const restarted = Date.now();
        // A copy still stalled goes on now, with every process back.
        await Promise.all(rows.filter((row) => !row.keepStall).map((row) => s.sim.releaseStall(row.vm)));
        await Promise.all(rows.map(async (row) => row.afterRestart?.(s, row.vm, ids.get(row.vm)!, round)));

        const problems: string[] = [];
        const ends = await Promise.all(
          rows.map(async (row) => {
            const id = ids.get(row.vm)!;
            const status = await eventually(
              async () => {
                const st = await statusOf(s, id).catch(() => undefined);
                return st !== undefined && TERMINAL.has(st) ? st : undefined;
              },
              `migration of ${row.vm} (${row.state}) ended`,
              120_000,
              100,
            ).catch((e: unknown) => `not ended: ${String(e)}`);
            const answer = await s.migration(id);
            if (!row.ends.includes(status as Status))
              problems.push(
                `${row.vm} (${row.state}): ended ${status}, expected ${row.ends.join(' or ')}: ${JSON.stringify(migrationV1.Migration.toJSON(answer)).slice(0, 2000)}`,
              );
            if (row.probed !== undefined) {
              const probes = answer.attempts.flatMap((a) => a.probes);
              if (!probes.some((p) => p.outcome === row.probed))
                problems.push(`${row.vm}: no ${row.probed} probe among ${JSON.stringify(probes.map((p) => p.outcome))}`);
              for (const p of probes) if (p.silentMillis < 8000) problems.push(`${row.vm}: probed after ${p.silentMillis} ms of silence`);
            }
            return { row, id, status, answer };
          }),
        );
        // Every VM of the table (not only this round's) runs on exactly one host, and every record agrees.
        const violations = await eventually(
          async () => {
            const v = await s.violations(VMS);
            return v.length === 0 ? v : undefined;
          },
          'the invariants',
          60_000,
          250,
        ).catch(async () => s.violations(VMS));
        problems.push(...violations);
        // A completed migration left the VM on its destination, one that failed or was aborted on its source.
        for (const { row, status, answer } of ends) {
          const at = (await s.getVm(row.vm)).hostId;
          if (status === 'completed' && at !== answer.destinationHostId)
            problems.push(`${row.vm}: completed to ${answer.destinationHostId}, runs on ${at}`);
          if ((status === 'failed' || status === 'aborted') && at !== answer.sourceHostId)
            problems.push(`${row.vm}: ${status}, runs on ${at}, not its source ${answer.sourceHostId}`);
        }
        // `berth migrations show` prints a watchdog's probes under their attempt.
        for (const { row, id } of ends.filter((e) => e.row.probed !== undefined)) {
          const out: string[] = [];
          const env = { ...process.env, BERTH_MIGRATION_ADDR: s.migrationAddress };
          const code = await runCli(['migrations', 'show', id], { env, io: { stdout: (t) => out.push(t), stderr: () => {} } });
          if (code !== 0 || !new RegExp(`probed \\S+ after \\d+ s of silence: ${row.probed}`).test(out.join('\n')))
            problems.push(`${row.vm}: berth migrations show (exit ${code}) does not print the ${row.probed} probe`);
        }
        // Figures for the record (not asserted): how long each phase of the round took.
        console.log(
          `SIGKILL of ${r.name}: ${rows.length} rows held in ${((held - started) / 1000).toFixed(1)} s, restarted in ` +
            `${((restarted - held) / 1000).toFixed(1)} s, settled in ${((Date.now() - restarted) / 1000).toFixed(1)} s; ends: ` +
            ends.map((e) => `${e.row.vm}=${e.status}/${e.answer.attempts.length}`).join(' ') +
            `; starts (ms) ${JSON.stringify(s.startMillis())}; started again after an exit: ${JSON.stringify(s.exitsBeforeServing())}`,
        );
        expect(problems).toEqual([]);
      } finally {
        await cleanUp();
      }
    },
    240_000,
  );
});
