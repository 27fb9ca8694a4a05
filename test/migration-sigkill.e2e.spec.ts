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
 * The other ways a migration starts or runs (session 12), rows of the same rounds:
 * - the watchdog with the executor out of reach across its probe: `probe-down` (destination claimed, the
 *   executor kept down past MIGRATION_EXECUTOR_SILENCE, executor column) and `probe-frozen` (migrating,
 *   the executor SIGSTOPped past the silence and the probe's deadline while the scheduler is down,
 *   scheduler column): the probe is recorded `unreachable` (never a guess), and once the executor is back
 *   the migration completes with every claim of a refused or failed attempt given back;
 * - cold moves (a stopped VM: same steps and claims, the executor defines the domain on the destination
 *   and then undefines it on the source): the claim taken and not recorded, destination claimed with the
 *   executor frozen, switched over with the source claim not released; afterwards the VM is stopped on
 *   exactly one host (its domain shut off there only) with its claims there;
 * - a drain (StartEvacuation of the host the two `evac-*` VMs are on, pool `evac`): one move copying
 *   (stalled), the other held after inventory took its claim; afterwards the drain completed, the host is
 *   in MAINTENANCE (not stuck in preparing), and each VM was moved by that drain once (one migration per
 *   VM with its evacuation id in the log). The next round drains the host they went to;
 * - a balancer move (BalancerRunNow, pool `bal`, spread: `bal` beside a 4-vCPU anchor of mode manual puts
 *   its host over 30%): the run recorded with the VM's cooldown, its copy stalled when the SIGKILL comes.
 *   Afterwards an operator puts the VM back on the over host, and the restarted balancer proposes no
 *   second move of it (the dry run skips it for its cooldown; the log has one balancer move per round).
 *   The cooldown is 1 s only while a round's run starts (so each round may move it once), 1 h otherwise.
 * Pools keep the paths apart: the table's VMs and hosts h1-h4 are pool `table`, a drain's `evac` (e1-e3),
 * the balancer's `bal` (b1-b3).
 *
 * After each round's restart every migration ends as its row says and the invariants hold for every
 * VM of the table (harness/migration-invariants.ts): inventory's read model and its log, the migration
 * log, the executor and every host's domains on the simulator daemon agree that each VM runs on exactly
 * one host, with its claims there and nowhere else, and that every claimed attempt gave its claim back
 * or completed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationV1, modelV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { eventually, infraAvailable } from '@berth/testing';
import { readEventLog } from './harness/event-log.ts';
import {
  startProcessCrashStack,
  type ComposeOptions,
  type CrashTarget,
  type HoldPoint,
  type ProcessCrashStack,
} from './harness/process-crash-stack.ts';

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
  /** How its VM is made (default: running, 1 vCPU, pool `table`). */
  readonly vmSpec?: ComposeOptions;
  /** After the ends and the invariants: what else its path must leave true (a drain's, the balancer's records); the problems. */
  readonly check?: (s: S, vm: string, id: string, round: number) => Promise<string[]>;
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

/** A migration's record (status, attempts, reasons) for a failure message. */
const recordText = (m: migrationV1.Migration): string => JSON.stringify(migrationV1.Migration.toJSON(m)).slice(0, 2000);

const until = async (s: S, id: string, vm: string, ...states: string[]): Promise<string> => {
  try {
    await eventually(async () => states.includes(await statusOf(s, id)), `migration of ${vm} ${states.join('/')}`, REACH_MILLIS, 20);
  } catch (e) {
    // A set-up that times out says where the migration stood (its status, attempts and reasons), not only where the VM did.
    const record = await s.migration(id).then(recordText, (err: unknown) => `unreadable: ${String(err)}`);
    throw new Error(`${e instanceof Error ? e.message : String(e)}; the migration then: ${record}`, { cause: e });
  }
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

/**
 * CancelMigration, asked once: a cancel that loses its append to the copy's progress reports is decided
 * again inside the service (MigrationCommands: bounded rounds), so ABORTED here is a failure.
 */
const cancel = (s: S, id: string, round: number): Promise<unknown> =>
  callUnary(s.client, 'cancelMigration', { meta: { commandId: `cancel-${id}-${round}` }, migrationId: id, reason: 'crash table' });

/** The migration's watchdog probes so far (every attempt's), by outcome. */
const probeOutcomes = async (s: S, id: string): Promise<string[]> =>
  (await s.migration(id)).attempts.flatMap((a) => a.probes.map((p) => p.outcome));
const probedUnreachable = async (s: S, vm: string, id: string): Promise<void> =>
  void (await eventually(
    async () => (await probeOutcomes(s, id)).includes('unreachable'),
    `the watchdog's probe of ${vm}'s executor unreachable`,
    60_000,
    200,
  ));

/**
 * Moves the VM to `hostId` (an operator's move, named destination) unless it is there; waits until it
 * completed. Asked again (three times at most) when it failed: on a loaded machine every attempt of a
 * move may miss the executor's start window.
 */
const gather = async (s: S, vm: string, hostId: string, tag: string): Promise<void> => {
  if ((await s.getVm(vm)).hostId === hostId) return;
  for (let tries = 0; ; tries++) {
    const m = await callUnary(s.client, 'migrateVm', {
      meta: { commandId: `${tag}-${vm}-${tries}` },
      vmId: vm,
      destinationHostId: hostId,
      reason: 'crash table: set up',
    });
    const id = m.migration!.migrationId;
    const end = await until(s, id, vm, 'completed', 'failed', 'aborted').then(() => statusOf(s, id));
    if (end === 'completed') return;
    if (tries >= 2) throw new Error(`${vm}'s move to ${hostId} (set-up, ${id}) ended ${end}`);
  }
};

const HS = modelV1.HostState;
const TABLE_HOSTS = ['h1', 'h2', 'h3', 'h4'];
/** A drain's hosts: each round drains the one its two VMs are on, to the other two (a retry needs a third). */
const EVAC_HOSTS = ['e1', 'e2', 'e3'];
/** The balancer's pool: `bal` (2 vCPUs) beside `bal-anchor` (4 vCPUs, mode manual: never the balancer's) puts its host over 30%. */
const BAL_HOSTS = ['b1', 'b2', 'b3'];
const BAL_ANCHOR = 'bal-anchor';
const POOLS: Record<string, string> = Object.fromEntries([
  ...TABLE_HOSTS.map((h) => [h, 'table']),
  ...EVAC_HOSTS.map((h) => [h, 'evac']),
  ...BAL_HOSTS.map((h) => [h, 'bal']),
]);

interface Drain {
  readonly hostId: string;
  readonly evacuationId: string;
  /** The drain's migration of each VM. */
  readonly ids: ReadonlyMap<string, string>;
}
const drains = new Map<number, Promise<Drain>>();
/**
 * The round's drain (once, whichever evacuation row asks first): the host of `evac-copy` (with
 * `evac-claim` moved beside it first; the other drain hosts enabled again), its move of `evac-copy`
 * stalled half-way and that of `evac-claim` held in BeginVmMigration after inventory took the claim.
 */
const drain = (s: S, round: number): Promise<Drain> => {
  let d = drains.get(round);
  if (d === undefined) {
    d = (async (): Promise<Drain> => {
      const hostId = (await s.getVm('evac-copy')).hostId;
      for (const h of EVAC_HOSTS)
        if (h !== hostId && (await s.hostState(h)) !== HS.HOST_STATE_ENABLED)
          await s.setHostState(h, HS.HOST_STATE_ENABLED, `enable-${h}-${round}`);
      await gather(s, 'evac-claim', hostId, `evac-gather-${round}`);
      // The service's fleet view has both VMs on the host and the others enabled: the plan moves both.
      await eventually(
        async () => {
          const p = (await callUnary(s.client, 'planEvacuation', { hostId })).plan!;
          return p.moves.length === 2 && p.blockers.length === 0;
        },
        `the plan of ${hostId} to move both drain VMs`,
        30_000,
        200,
      );
      await s.sim.injectMigrationFailure({ failure: 'stall', vmId: 'evac-copy', atFraction: 0.5 });
      const held = s.hold.arm({ call: 'beginMigration', when: 'after', vmId: 'evac-claim' });
      const started = await callUnary(s.client, 'startEvacuation', {
        meta: { commandId: `drain-${hostId}-${round}` },
        hostId,
        reason: 'crash table',
      });
      await held;
      await eventually(async () => (await s.sim.stalled()).includes('evac-copy'), `evac-copy's copy stalled half-way`, REACH_MILLIS, 20);
      const ids = await eventually(
        async () => {
          const e = (await callUnary(s.client, 'getEvacuation', { hostId })).evacuation!;
          const m = new Map(e.moves.filter((x) => x.migrationId !== '').map((x) => [x.vmId, x.migrationId]));
          return m.size === 2 ? m : undefined;
        },
        `the drain of ${hostId}'s two moves recorded`,
        REACH_MILLIS,
        100,
      );
      return { hostId, evacuationId: started.evacuation!.evacuationId, ids };
    })();
    drains.set(round, d);
  }
  return d;
};

/** What the drain must leave: the host in MAINTENANCE, the evacuation completed, each VM moved by it once. */
const drainProblems = async (s: S, round: number): Promise<string[]> => {
  const d = await drain(s, round);
  const out: string[] = [];
  const e = await eventually(
    async () => {
      const x = (await callUnary(s.client, 'getEvacuation', { hostId: d.hostId })).evacuation!;
      return x.status === 'completed' ? x : undefined;
    },
    `the drain of ${d.hostId} completed`,
    60_000,
    200,
  ).catch(async (err: unknown) => {
    const x = (await callUnary(s.client, 'getEvacuation', { hostId: d.hostId })).evacuation!;
    out.push(`drain ${d.evacuationId}: ${String(err)}: ${JSON.stringify(migrationV1.Evacuation.toJSON(x)).slice(0, 1500)}`);
    return x;
  });
  const state = await eventually(
    async () => ((await s.hostState(d.hostId)) === HS.HOST_STATE_MAINTENANCE ? HS.HOST_STATE_MAINTENANCE : undefined),
    `${d.hostId} in MAINTENANCE`,
    30_000,
    200,
  ).catch(() => s.hostState(d.hostId));
  if (state !== HS.HOST_STATE_MAINTENANCE) out.push(`drain ${d.evacuationId}: ${d.hostId} is ${HS[state]}, not MAINTENANCE`);
  const log = await readEventLog(s.dbs.migration.url);
  for (const vm of d.ids.keys()) {
    const moves = e.moves.filter((m) => m.vmId === vm);
    if (moves.length !== 1 || moves[0]!.status !== 'completed')
      out.push(`drain ${d.evacuationId}: ${vm}'s moves ${JSON.stringify(moves.map((m) => `${m.migrationId}:${m.status}`))}`);
    const started = log.filter(
      (x) => x.type === 'MigrationRequested' && x.data['vmId'] === vm && x.data['evacuationId'] === d.evacuationId,
    );
    if (started.length !== 1) out.push(`drain ${d.evacuationId}: ${started.length} migrations of ${vm} in the log, not 1`);
    const at = (await s.getVm(vm)).hostId;
    if (at === d.hostId) out.push(`drain ${d.evacuationId}: ${vm} still on ${at}`);
  }
  return out;
};

const balPolicy = (cooldownSeconds: number): migrationV1.BalancerPolicy =>
  migrationV1.BalancerPolicy.fromPartial({
    resourcePool: 'bal',
    mode: migrationV1.BalancerMode.BALANCER_MODE_SPREAD,
    highThresholdPercent: 30,
    lowThresholdPercent: 5,
    maxMigrationsPerInterval: 1,
    // No periodic pass of its own between the rounds' runs (one may come after a restart: it must move nothing).
    intervalSeconds: 3600,
    minImprovementPercent: 20,
    cooldownSeconds,
    windowSeconds: 0,
    pressureThresholdPercent: 0,
  });
const setBalPolicy = async (s: S, cooldownSeconds: number, commandId: string): Promise<void> =>
  void (await callUnary(s.client, 'setBalancerPolicy', { meta: { commandId }, policy: balPolicy(cooldownSeconds) }));
/** The balancer's moves of the VM in the migration log (MigrationRequested, trigger balancer). */
const balancerMoves = async (s: S, vm: string): Promise<number> =>
  (await readEventLog(s.dbs.migration.url)).filter(
    (e) => e.type === 'MigrationRequested' && e.data['vmId'] === vm && e.data['trigger'] === 'balancer',
  ).length;
/** Per round: the balancer's moves of `bal` before its run. */
const balMovesBefore = new Map<number, number>();

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
  // The executor out of reach across the watchdog's probe: recorded `unreachable` (never a guess),
  // then settled once it is back.
  {
    vm: 'probe-down',
    state: 'destination claimed, the executor not having heard: it stays down across the watchdog’s probe (unreachable), then restarts',
    ends: ['completed'],
    probed: 'unreachable',
    only: only(['executor']),
    frozen: async (s, vm, round) => until(s, await migrate(s, vm, round), vm, 'destination-claimed'),
    whileDown: (s, vm, id) => probedUnreachable(s, vm, id),
  },
  {
    vm: 'probe-frozen',
    state:
      'migrating (the copy stalled): the executor frozen (SIGSTOP) across the watchdog’s probe (unreachable: no answer by the deadline), then thawed',
    ends: ['completed'],
    probed: 'unreachable',
    only: only(['scheduler']),
    reach: stalled,
    whileDown: async (s, vm, id) => {
      s.freeze('executor');
      try {
        await probedUnreachable(s, vm, id);
      } finally {
        s.thaw('executor');
      }
    },
  },
  // Cold moves (a stopped VM: the same steps and claims; the executor defines the domain on the
  // destination, then undefines it on the source).
  {
    vm: 'cold-taken',
    state: 'cold move, destination chosen: the claim taken in inventory, not recorded (BeginVmMigration held after)',
    ends: ['completed'],
    vmSpec: { stopped: true },
    reach: heldAt('beginMigration', 'after'),
  },
  {
    vm: 'cold-claimed',
    state: 'cold move, destination claimed: the executor has not heard (frozen)',
    ends: ['completed'],
    vmSpec: { stopped: true },
    frozen: async (s, vm, round) => until(s, await migrate(s, vm, round), vm, 'destination-claimed'),
  },
  {
    vm: 'cold-switched',
    state:
      'cold move, switched over (defined on the destination, undefined on the source): the source claim not yet released (CompleteVmMigration held before)',
    ends: ['completed'],
    vmSpec: { stopped: true },
    reach: heldAt('completeMigration', 'before'),
  },
  // A drain (StartEvacuation): its own record (evacuation stream) must resume too.
  {
    vm: 'evac-copy',
    state: 'evacuation: the drain’s move copying (stalled half-way); the host maintenance-preparing',
    ends: ['completed'],
    vmSpec: { pool: 'evac' },
    reach: async (s, vm, round) => until(s, (await drain(s, round)).ids.get(vm)!, vm, 'migrating'),
    // The drain's end is checked once, here: completed, the host in MAINTENANCE, each VM moved once.
    check: (s, _vm, _id, round) => drainProblems(s, round),
  },
  {
    vm: 'evac-claim',
    state: 'evacuation: the drain’s move chosen, its claim taken in inventory, not recorded (BeginVmMigration held after)',
    ends: ['completed'],
    vmSpec: { pool: 'evac' },
    reach: async (s, vm, round) => (await drain(s, round)).ids.get(vm)!,
  },
  // The balancer (BalancerRunNow, spread): its run is recorded (BalancerRunRecorded: the VM's cooldown)
  // before the kill; afterwards the VM is put back on the over host by an operator, and no second move
  // of it is proposed (the dry run skips it for its cooldown; the log has one balancer move per round).
  {
    vm: 'bal',
    state: 'balancer move copying (stalled half-way), its run recorded with the VM’s cooldown',
    ends: ['completed'],
    vmSpec: { pool: 'bal', vcpus: 2 },
    reach: async (s, vm, round) => {
      const anchorHost = (await s.getVm(BAL_ANCHOR)).hostId;
      await gather(s, vm, anchorHost, `bal-gather-${round}`);
      await s.sim.injectMigrationFailure({ failure: 'stall', vmId: vm, atFraction: 0.5 });
      balMovesBefore.set(round, await balancerMoves(s, vm));
      // The previous round's move past its cooldown for this round's run only (then 1 h again).
      await setBalPolicy(s, 1, `bal-open-${round}`);
      let tries = 0;
      const id = await eventually(
        async () => {
          const moving = (await s.getVm(vm)).migrationId;
          if (moving !== '') return moving; // a periodic pass after a restart got there first
          const run = await callUnary(s.client, 'balancerRunNow', {
            meta: { commandId: `bal-run-${round}-${tries++}` },
            resourcePool: 'bal',
          });
          return run.moves.find((m) => m.vmId === vm)?.migrationId || undefined;
        },
        `the balancer to move ${vm} off ${anchorHost}`,
        REACH_MILLIS,
        250,
      );
      await setBalPolicy(s, 3600, `bal-close-${round}`);
      await eventually(async () => (await s.sim.stalled()).includes(vm), `${vm}'s copy stalled half-way`, REACH_MILLIS, 20);
      return until(s, id, vm, 'migrating');
    },
    check: async (s, vm, id, round) => {
      const out: string[] = [];
      const anchorHost = (await s.getVm(BAL_ANCHOR)).hostId;
      const m = await s.migration(id);
      if (m.trigger !== migrationV1.MigrationTrigger.MIGRATION_TRIGGER_BALANCER) out.push(`${vm}: ${id} is not the balancer's move`);
      // Back on the over host, only its cooldown (recorded before the kill) keeps the balancer off it.
      await gather(s, vm, anchorHost, `bal-back-${round}`);
      const dry = await eventually(
        async () => {
          const r = (await callUnary(s.client, 'balancerDryRun', { resourcePool: 'bal' })).run!;
          const c = r.candidates.find((x) => x.vmId === vm);
          // The service's fleet view has it back, running (no longer migrating), its host over.
          const back = c?.fromHostId === anchorHost && !/already migrating|not running/.test(c.reason);
          return r.hosts.find((h) => h.hostId === anchorHost)?.role === 'over' && back ? r : undefined;
        },
        `the balancer to see ${vm} back on ${anchorHost}, over`,
        30_000,
        200,
      ).catch((e: unknown) => {
        out.push(`${vm}: ${String(e)}`);
        return undefined;
      });
      const c = dry?.candidates.find((x) => x.vmId === vm);
      if (dry && (c?.verdict !== 'skipped' || !/cooldown/.test(c.reason)))
        out.push(`${vm}: the dry run after the restart says ${c?.verdict} (${c?.reason}), not skipped for its cooldown`);
      if (dry?.moves.some((x) => x.vmId === vm)) out.push(`${vm}: the dry run after the restart moves it again`);
      const moved = (await balancerMoves(s, vm)) - (balMovesBefore.get(round) ?? 0);
      if (moved !== 1) out.push(`${vm}: ${moved} balancer moves of it in the log this round, not 1`);
      return out;
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

const VMS = [...ROWS.map((r) => r.vm), BAL_ANCHOR];
/** Moved cold: checked stopped. */
const STOPPED = new Set(ROWS.filter((r) => r.vmSpec?.stopped).map((r) => r.vm));

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('a migration survives a SIGKILL of each service at each of its states', () => {
  let s: S;
  beforeAll(async () => {
    s = await startProcessCrashStack('migkill', [...TABLE_HOSTS, ...EVAC_HOSTS, ...BAL_HOSTS], {
      pools: POOLS,
      // Every row moves at once, each holding a claim at both ends, and failed attempts exclude hosts: at
      // 16 vCPUs two of the four could be full when a retry chose (0/10 hosts, its attempts used up).
      cpus: Object.fromEntries(TABLE_HOSTS.map((h) => [h, 32])),
      env: {
        // Every row's migration runs at once: the caps would hold most of them in `requested`.
        migration: {
          MIGRATION_MAX_PER_FLEET: '100',
          MIGRATION_MAX_OUTBOUND_PER_HOST: '100',
          MIGRATION_MAX_INBOUND_PER_HOST: '100',
          // An attempt failed by the short watchdog on a loaded machine must not use a row's last try up.
          MIGRATION_MAX_ATTEMPTS: '6',
          // A drain blocked for a moment (its fleet view behind a restart) plans again soon.
          MIGRATION_EVACUATION_RETRY: '1s',
        },
      },
    });
    await Promise.all([
      ...ROWS.map((r) => s.compose(r.vm, { pool: 'table', ...r.vmSpec })),
      s.compose(BAL_ANCHOR, { pool: 'bal', vcpus: 4, mode: modelV1.MigrationMode.MIGRATION_MODE_MANUAL }),
    ]);
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
      const exitedBefore = s.exitedOnTheirOwn().length;
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
              problems.push(`${row.vm} (${row.state}): ended ${status}, expected ${row.ends.join(' or ')}: ${recordText(answer)}`);
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
            const v = await s.violations(VMS, STOPPED);
            return v.length === 0 ? v : undefined;
          },
          'the invariants',
          60_000,
          250,
        ).catch(async () => s.violations(VMS, STOPPED));
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
        // What each row's own path must leave (a drain's end, the balancer's cooldown).
        for (const found of await Promise.all(ends.map(async ({ row, id }) => (row.check ? row.check(s, row.vm, id, round) : []))))
          problems.push(...found);
        // No process may end on its own (only the SIGKILLs end them).
        problems.push(...s.exitedOnTheirOwn().slice(exitedBefore));
        // Figures for the record (not asserted): how long each phase of the round took.
        console.log(
          `SIGKILL of ${r.name}: ${rows.length} rows held in ${((held - started) / 1000).toFixed(1)} s, restarted in ` +
            `${((restarted - held) / 1000).toFixed(1)} s, settled in ${((Date.now() - restarted) / 1000).toFixed(1)} s; ends: ` +
            ends.map((e) => `${e.row.vm}=${e.status}/${e.answer.attempts.length}`).join(' ') +
            `; starts (ms) ${JSON.stringify(s.startMillis())}; started again after an exit: ${JSON.stringify(s.exitsBeforeServing())}`,
        );
        expect(problems).toEqual([]);
      } catch (e) {
        // Where every row's VM and migration stand, for the failure's reader.
        const where = await Promise.all(
          rows.map(async (row) => {
            const vm = await s.getVm(row.vm).catch(() => undefined);
            const m = vm?.migrationId ? await s.migration(vm.migrationId).catch(() => undefined) : undefined;
            const domains = await s.domains(row.vm).catch(() => []);
            return `${row.vm}: on ${vm?.hostId} moving ${vm?.migrationId || '-'}${m ? ` ${statusName(m.status)} attempt ${m.attempts.length} ${m.reason}` : ''}; domains ${JSON.stringify(domains)}`;
          }),
        );
        console.log(
          `SIGKILL of ${r.name} failed (${String(e).slice(0, 300)}); the rows:\n${where.join('\n')}\nexited: ${JSON.stringify(s.exitedOnTheirOwn())}`,
        );
        throw e;
      } finally {
        await cleanUp();
      }
    },
    240_000,
  );
});
