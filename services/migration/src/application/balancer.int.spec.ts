import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventCatalog, storedEventEvolution } from '@berth/contracts';
import { createKysely, migrateEventStore, PostgresEventStore, type AnyKysely } from '@berth/event-store';
import { applyClaim, fits, hostSnapshot, vmSpec, type HostSnapshot } from '@berth/fit';
import { createLogger } from '@berth/observability';
import { HostView } from '@berth/scoring';
import { createTestDatabase, infraAvailable, type TestDatabase } from '@berth/testing';
import { defaultPolicy } from '../domain/balancer/policy.ts';
import type { Evacuee } from '../domain/evacuation/model.ts';
import { BalancerService, type MeasuredUsage } from './balancer.ts';
import type { FleetReader } from './evacuation-ports.ts';
import type { MigrateInput } from './migrations.ts';
import { DEFAULT_TEST_POLICY } from '../testing/migration-policy.ts';

const GiB = 1024 ** 3;

/** Two hosts of 8 vCPUs: h0 holds seven 1-vCPU VMs (87.5%), h1 none. */
function fleet(): { view: HostView; evacuees: Map<string, Evacuee[]> } {
  let h0: HostSnapshot = hostSnapshot({ hostId: 'h0', cpus: 8, memoryBytes: 32 * GiB });
  const h1 = hostSnapshot({ hostId: 'h1', cpus: 8, memoryBytes: 32 * GiB });
  const list: Evacuee[] = [];
  for (let i = 0; i < 7; i++) {
    const spec = vmSpec({ vmId: `vm${i}`, vcpus: 1, memoryBytes: GiB / 4, migrationMode: 'manual-and-automatic' });
    const r = fits(h0, spec);
    if (!r.ok) throw new Error('fixture');
    h0 = applyClaim(h0, r.claim);
    list.push({ spec, claim: r.claim, status: 'running' });
  }
  return { view: new HostView([h0, h1]), evacuees: new Map([['h0', list]]) };
}

describe.skipIf(!(await infraAvailable('postgres')))('balancer in the service (policy in the log, periodic runs)', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;
  const started: MigrateInput[] = [];
  let now = Date.parse('2026-12-06T00:00:00Z');
  const make = (usage?: Map<string, MeasuredUsage>, f = fleet()): BalancerService => {
    const reader: FleetReader = { view: async () => f.view, evacuees: async (h) => f.evacuees.get(h) ?? [] };
    return new BalancerService({
      store,
      db,
      fleet: reader,
      migrations: {
        migrate: async (input) => {
          started.push(input);
          return { core: { migrationId: `m-${started.length}` } } as never;
        },
      },
      clock: { now: () => now },
      logger: createLogger('balancer-int'),
      ...(usage && { usage: { usage: (h: string) => usage.get(h) } }),
    });
  };

  beforeAll(async () => {
    tdb = await createTestDatabase('migration_balancer');
    db = createKysely(tdb.url, { applicationName: 'balancer-int', max: 4 });
    await migrateEventStore(db);
    // As the service makes it: events written at the catalog's version, older ones upcast when read.
    store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, 'migration') });
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  it('policy: default off, set (validated, every bad field named, nothing recorded), read back', async () => {
    const b = make();
    expect(await b.getPolicy('default')).toEqual(defaultPolicy('default'));
    await expect(b.setPolicy({ ...defaultPolicy('default'), highThreshold: 1.5, mode: 'sideways' as never }, 'bad')).rejects.toMatchObject({
      name: 'ValidationError',
      violations: expect.arrayContaining([
        expect.objectContaining({ field: 'policy.highThreshold' }),
        expect.objectContaining({ field: 'policy.mode' }),
      ]),
    });
    expect((await store.readStream('balancer-default')).events).toEqual([]);
    const set = await b.setPolicy({ ...defaultPolicy('default'), mode: 'spread', windowSeconds: 0, intervalSeconds: 60 }, 'set-1');
    expect(set.mode).toBe('spread');
    expect((await make().getPolicy('default')).mode).toBe('spread');
  });

  it('dry run changes nothing; a tick moves one VM per interval, records it, and its cooldown holds after a restart', async () => {
    const b = make();
    const dry = await b.dryRun('default');
    expect(dry.moves).toHaveLength(1);
    expect(dry.moves[0]).toMatchObject({ from: 'h0', to: 'h1' });
    expect(dry.hosts.find((h) => h.hostId === 'h0')?.role).toBe('over');
    expect(started).toEqual([]);

    await b.tick();
    expect(started).toHaveLength(1);
    expect(started[0]).toMatchObject({ trigger: 'balancer', destination: 'h1', vmId: dry.moves[0]!.vmId });
    const recorded = (await store.readStream('balancer-default')).events.filter((e) => e.type === 'BalancerRunRecorded');
    expect(recorded).toHaveLength(1);
    // within the interval: no second run
    now += 30_000;
    await b.tick();
    expect(started).toHaveLength(1);
    // a restarted service (same fleet: the move has not happened) after the interval: the moved VM stays in its cooldown
    now += 60_000;
    const again = make();
    await again.tick();
    expect(started).toHaveLength(2);
    expect(started[1]!.vmId).not.toBe(started[0]!.vmId);
    const run = await again.dryRun('default');
    expect(run.moves.map((m) => m.vmId)).not.toContain(started[0]!.vmId);
    expect(run.moves.map((m) => m.vmId)).not.toContain(started[1]!.vmId);
  });

  it('run now: refused while the pool is off (nothing under pressure); otherwise runs at once and the periodic run waits an interval', async () => {
    await expect(make().runNow('other', 'now-0')).rejects.toMatchObject({
      name: 'IllegalStateError',
      message: expect.stringMatching(/^balancing is off for pool other \(no host under pressure\)/),
    });
    now += 3_600_000;
    const b = make();
    const before = started.length;
    const r = await b.runNow('default', 'now-1');
    expect(r.run.trigger).toBe('manual');
    expect(r.run.moves).toHaveLength(1);
    expect(r.migrationIds.get(r.run.moves[0]!.vmId)).toBe(`m-${before + 1}`);
    expect(started.at(-1)!.commandId).toBe(`balancer:default:run-now:now-1:${r.run.moves[0]!.vmId}`);
    const recorded = (await store.readStream('balancer-default')).events.filter((e) => e.type === 'BalancerRunRecorded');
    expect(recorded.at(-1)!.data).toMatchObject({ trigger: 'manual' });
    // The periodic run is an interval away now.
    now += 10_000;
    await b.tick();
    expect(started).toHaveLength(before + 1);
  });

  it('pressure (measured usage, mode off): a host above the threshold for the window starts a pass at once; hysteresis until it clears', async () => {
    await make().setPolicy(
      {
        ...defaultPolicy('default'),
        mode: 'off',
        pressureThreshold: 0.9,
        pressureClearThreshold: 0.7,
        windowSeconds: 20,
        intervalSeconds: 60,
      },
      'set-pressure',
    );
    now += 7 * 3600_000;
    const usage = new Map<string, MeasuredUsage>([
      ['h0', { at: now, memory: 0.95 }],
      ['h1', { at: now, memory: 0.1 }],
    ]);
    const b = make(usage);
    const before = started.length;
    const tickAt = async (t: number, h0: number): Promise<void> => {
      now = t;
      usage.set('h0', { at: now, memory: h0 });
      usage.set('h1', { at: now, memory: 0.1 });
      await b.tick();
    };
    const t0 = now;
    await tickAt(t0, 0.95);
    // Above, but not yet for the whole window: nothing.
    expect(b.underPressure().has('h0')).toBe(false);
    await tickAt(t0 + 10_000, 0.95);
    await tickAt(t0 + 20_000, 0.95);
    expect(b.underPressure().has('h0')).toBe(true);
    expect(started).toHaveLength(before + 1);
    expect(started.at(-1)).toMatchObject({ destination: 'h1', reason: expect.stringMatching(/^balancer \(pressure, pool default\): h0 /) });
    // Between the two thresholds: still under pressure, but one pass per interval.
    await tickAt(t0 + 30_000, 0.8);
    expect(b.underPressure().has('h0')).toBe(true);
    expect(started).toHaveLength(before + 1);
    // Stale usage (telemetry silent) is no measurement: the host leaves pressure.
    now = t0 + 200_000;
    await b.tick();
    expect(b.underPressure().has('h0')).toBe(false);
    // Back above: the window starts again.
    await tickAt(t0 + 210_000, 0.95);
    expect(b.underPressure().has('h0')).toBe(false);
    await tickAt(t0 + 230_000, 0.95);
    expect(b.underPressure().has('h0')).toBe(true);
    await tickAt(t0 + 240_000, 0.69);
    expect(b.underPressure().has('h0')).toBe(false);
    const dry = await b.dryRun('default');
    expect(dry).toMatchObject({ source: 'measured', trigger: 'interval', summary: 'balancing is off for pool default' });

    // Explain of the latest run: the pressure pass, and the pool now — off, checked at the last tick, nothing run since.
    const stream = async () => (await store.readStream('balancer-default')).events;
    const explained = await b.explain('default', '');
    expect(explained.run.trigger).toBe('pressure');
    expect(explained.now).toMatchObject({
      mode: 'off',
      lastPass: { trigger: 'check', at: t0 + 240_000, moves: 0, underPressure: [] },
      lastPassIsRun: false,
    });
    expect(explained.now?.nextPassAt).toBeUndefined();
    expect(explained.now?.summary).toMatch(
      /^balancing is off for pool default since \S+: no periodic pass, pressure passes at 90% measured memory; last checked \S+: no host under pressure, nothing run, nothing recorded$/,
    );
    // While off and calm, ticks record nothing: the log does not grow.
    const events = (await stream()).length;
    await tickAt(t0 + 300_000, 0.5);
    await tickAt(t0 + 360_000, 0.5);
    await tickAt(t0 + 420_000, 0.5);
    expect(await stream()).toHaveLength(events);
    expect((await b.explain('default', '')).now?.lastPass).toMatchObject({ trigger: 'check', at: t0 + 420_000 });
    // A named run is that run alone; a restarted service has made no pass yet and says so.
    expect((await b.explain('default', explained.runId)).now).toBeUndefined();
    expect((await make(usage).explain('default', '')).now?.summary).toMatch(/; no pass by this service since it started$/);
  });

  it('every run is recorded with its inputs, thresholds, candidates and predicted loads; an unchanged run is counted; explain reads the log', async () => {
    // Pool calm: h5 holds two VMs of 1 vCPU / 4 GiB of 8 vCPUs / 32 GiB (25%), h6 none.
    let h5: HostSnapshot = hostSnapshot({ hostId: 'h5', cpus: 8, memoryBytes: 32 * GiB, resourcePool: 'calm' });
    const h6 = hostSnapshot({ hostId: 'h6', cpus: 8, memoryBytes: 32 * GiB, resourcePool: 'calm' });
    const list: Evacuee[] = [];
    for (const vmId of ['c1', 'c2']) {
      const spec = vmSpec({ vmId, vcpus: 1, memoryBytes: 4 * GiB, migrationMode: 'manual-and-automatic' });
      const r = fits(h5, spec);
      if (!r.ok) throw new Error('fixture');
      h5 = applyClaim(h5, r.claim);
      list.push({ spec, claim: r.claim, status: 'running' });
    }
    const calm = { view: new HostView([h5, h6]), evacuees: new Map([['h5', list]]) };
    const b = make(undefined, calm);
    await b.setPolicy({ ...defaultPolicy('calm'), mode: 'spread', windowSeconds: 0, intervalSeconds: 60 }, 'calm-1');
    const runs = async () => (await store.readStream('balancer-calm')).events.filter((e) => e.type.startsWith('BalancerRun'));
    now += 24 * 3600_000;
    await b.tick();
    // A run that moves nothing is recorded, whole.
    const first = await runs();
    expect(first.map((e) => [e.type, e.schemaVersion, e.streamPosition])).toEqual([['BalancerRunRecorded', 2, 2]]);
    expect(first[0]!.data).toMatchObject({
      trigger: 'interval',
      source: 'allocation',
      policy: { pool: 'calm', mode: 'spread', highThreshold: 0.8, lowThreshold: 0.2, minImprovement: 0.2, windowSeconds: 0 },
      moves: [],
      candidates: [],
      summary: 'no move: no host above 80% over the last 0 s',
      hosts: [
        {
          hostId: 'h5',
          cpu: 0.25,
          memory: 0.25,
          bottleneck: 0.25,
          role: 'normal',
          note: 'within thresholds',
          predicted: 0.25,
          measured: false,
        },
        { hostId: 'h6', cpu: 0, memory: 0, bottleneck: 0, role: 'under', note: 'empty', predicted: 0, measured: false },
      ],
    });
    expect(await b.explain('calm', '')).toMatchObject({
      runId: 'calm:2',
      repeats: 0,
      run: { summary: 'no move: no host above 80% over the last 0 s' },
    });
    // The same inputs and outcome twice more: counted, not recorded.
    now += 60_000;
    await b.tick();
    now += 60_000;
    await b.tick();
    expect(await runs()).toHaveLength(1);
    expect(await b.explain('calm', '')).toMatchObject({ runId: 'calm:2', repeats: 2, lastRepeatedAt: new Date(now).toISOString() });
    // The pool now: the last pass moved nothing and repeated the run shown; the next is an interval later.
    const calmNow = (await b.explain('calm', '')).now;
    expect(calmNow).toMatchObject({
      mode: 'spread',
      lastPass: { trigger: 'interval', at: now, moves: 0, runPosition: 2, counted: true },
      lastPassIsRun: false,
      nextPassAt: now + 60_000,
    });
    expect(calmNow?.summary).toContain(
      `last pass ${new Date(now).toISOString()} (interval): moved nothing, the same as the run shown (counted in its repeats, not recorded again); next pass due ${new Date(now + 60_000).toISOString()}`,
    );
    // A lower high threshold: h5 is over, c1 or c2 moves; the repeats reach the log before the new run.
    await b.setPolicy(
      { ...defaultPolicy('calm'), mode: 'spread', windowSeconds: 0, intervalSeconds: 60, highThreshold: 0.2, lowThreshold: 0.1 },
      'calm-2',
    );
    now += 60_000;
    const before = started.length;
    await b.tick();
    expect(started).toHaveLength(before + 1);
    const after = await runs();
    expect(after.map((e) => [e.type, e.streamPosition])).toEqual([
      ['BalancerRunRecorded', 2],
      ['BalancerRunRepeated', 4],
      ['BalancerRunRecorded', 5],
    ]);
    expect(after[1]!.data).toEqual({ runPosition: 2, count: 2, lastAt: new Date(now - 60_000).toISOString() });
    // Read back by a restarted service: the latest run, whole, and the first with its repeats from the log.
    const fresh = make(undefined, calm);
    const latest = await fresh.explain('calm', '');
    const moved = started.at(-1)!.vmId;
    expect((await b.explain('calm', '')).now).toMatchObject({
      lastPass: { moves: 1, runPosition: 5, counted: false },
      lastPassIsRun: true,
    });
    expect(latest).toMatchObject({
      runId: 'calm:5',
      repeats: 0,
      run: { policy: { highThreshold: 0.2 }, moves: [{ vmId: moved, from: 'h5', to: 'h6' }] },
    });
    expect(latest.run.candidates.find((c) => c.vmId === moved)).toMatchObject({
      verdict: 'moved',
      to: 'h6',
      before: { from: 0.25, to: 0 },
      after: { from: 0.125, to: 0.125 },
      improvement: 1,
      migrationId: `m-${before + 1}`,
    });
    // Predicted loads after the move; the other VM rejected with why.
    expect(latest.run.hosts.map((h) => [h.hostId, h.bottleneck, h.predicted])).toEqual([
      ['h5', 0.25, 0.125],
      ['h6', 0, 0.125],
    ]);
    expect(latest.run.candidates.find((c) => c.vmId !== moved)).toMatchObject({
      verdict: expect.stringMatching(/rejected|skipped/) as string,
    });
    expect(await fresh.explain('default', 'calm:2')).toMatchObject({ runId: 'calm:2', repeats: 2, run: { moves: [] } });
    await expect(fresh.explain('calm', 'calm:3')).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(fresh.explain('calm', 'calm:99')).rejects.toMatchObject({ name: 'NotFoundError' });
    await expect(fresh.explain('calm', 'calm-5')).rejects.toMatchObject({
      name: 'ValidationError',
      violations: [expect.objectContaining({ field: 'runId' })],
    });
    await expect(fresh.explain('quiet', '')).rejects.toMatchObject({ name: 'NotFoundError' });
  });
});

/**
 * The balancer records a run after its moves started: a crash between the two leaves moves in the
 * migration log that no run record holds. The restarted service reads the log's balancer moves once,
 * so those VMs keep their cooldown (no second move of the same VM, no ping-pong).
 */
describe.skipIf(!(await infraAvailable('postgres')))('balancer cooldown after a crash that lost the run record (real Postgres)', () => {
  let tdb: TestDatabase;
  let db: AnyKysely;
  let store: PostgresEventStore;

  beforeAll(async () => {
    tdb = await createTestDatabase('migration_balancer_crash');
    db = createKysely(tdb.url, { applicationName: 'balancer-crash-int', max: 4 });
    await migrateEventStore(db);
    store = new PostgresEventStore(db, { evolution: storedEventEvolution(eventCatalog, 'migration') });
  });
  afterAll(async () => {
    await db?.destroy();
    await tdb?.drop();
  });

  /** What MigrateVm appends first, as the crashed service left it. */
  const requested = async (vmId: string, trigger: 'balancer' | 'manual'): Promise<void> => {
    const migrationId = `m-${vmId}`;
    await store.append(
      `migration-${migrationId}`,
      [
        {
          type: 'MigrationRequested',
          data: {
            migrationId,
            vmId,
            vmName: vmId,
            trigger,
            sourceHostId: 'h0',
            sourceHypervisorUri: 'sim://h0',
            requestedDestination: 'h1',
            memoryBytes: GiB / 4,
            policy: DEFAULT_TEST_POLICY,
            warning: '',
            reason: trigger === 'balancer' ? 'balancer (spread, pool default): h0 above high' : 'operator',
          },
        },
      ],
      { expectedVersion: 0 },
    );
  };

  it('VMs the balancer started moving stay in their cooldown; a manual move does not count', async () => {
    const f = fleet();
    const b = new BalancerService({
      store,
      db,
      fleet: { view: async () => f.view, evacuees: async (h) => f.evacuees.get(h) ?? [] },
      migrations: { migrate: async () => Promise.reject(new Error('a dry run starts nothing')) },
      clock: { now: () => Date.now() },
      logger: createLogger('balancer-crash-int'),
    });
    await b.setPolicy({ ...defaultPolicy('default'), mode: 'spread', windowSeconds: 0, intervalSeconds: 60 }, 'p-1');
    for (let i = 0; i < 6; i++) await requested(`vm${i}`, 'balancer');
    await requested('vm6', 'manual');
    const run = await b.dryRun('default');
    expect(run.moves.map((m) => m.vmId)).toEqual(['vm6']);
    const cooled = run.candidates
      .filter((c) => c.verdict === 'skipped' && c.reason.startsWith('cooldown: moved by the balancer'))
      .map((c) => c.vmId);
    expect(new Set(cooled)).toEqual(new Set(['vm0', 'vm1', 'vm2', 'vm3', 'vm4', 'vm5']));
  });
});
