import { describe, expect, it } from 'vitest';
import type { DomainSpec } from '../domain-spec.ts';
import type { LifecycleEvent, MigrationProgress } from '../driver.ts';
import { MigrationError } from '../errors.ts';
import { MigrationModel } from './migration.ts';
import { SimulatorFleet } from './simulator.ts';

const GIB = 1024 ** 3;
const MIB = 1024 ** 2;
const spec = (vmId: string, memoryBytes = GIB): DomainSpec => ({
  vmId,
  title: vmId,
  vcpus: 1,
  memoryBytes,
  pinnedCpus: [],
  numaCells: [],
  passthroughCpu: false,
  hostdevs: [],
  vfs: [],
  volumes: [],
  lazyAllocation: true,
  diskCache: 'default',
  networks: [],
});

/** Two hosts; simulated time runs `timeScale` times faster than the clock. */
function fleetOf(timeScale: number) {
  const fleet = new SimulatorFleet({ migration: { timeScale, stepMillis: 1, progressIntervalMillis: 1 } });
  const a = fleet.driver(fleet.addHost({ hostId: 'a', cpus: 8, memoryBytes: 64 * GIB }));
  const b = fleet.driver(fleet.addHost({ hostId: 'b', cpus: 8, memoryBytes: 64 * GIB }));
  return { fleet, a, b };
}

const failureOf = async (p: Promise<unknown>): Promise<MigrationError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof MigrationError) return e;
    throw e;
  }
  throw new Error('the migration did not fail');
};

describe('MigrationModel', () => {
  it('moves an idle guest in one pass of memory / bandwidth', () => {
    const m = new MigrationModel(GIB, { bandwidthMiBps: 512 }, {}, 0);
    expect(m.advance(1.9).kind).toBe('running');
    expect(m.progress(0)).toMatchObject({ dataTotalBytes: GIB, iteration: 1, phase: 'precopy' });
    expect(m.progress(0).dataProcessedBytes).toBeCloseTo(0.95 * GIB, -3);
    expect(m.advance(0.2).kind).toBe('completed');
    expect(m.progress(0)).toMatchObject({ dataProcessedBytes: GIB, dataRemainingBytes: 0 });
  });

  it('needs more passes as the guest dirties memory, and converges while it dirties slower than it sends', () => {
    const m = new MigrationModel(GIB, { bandwidthMiBps: 1024 }, {}, 512 * MIB);
    let kind = m.advance(1).kind;
    expect(m.iteration).toBe(2);
    for (let i = 0; i < 100 && kind === 'running'; i++) kind = m.advance(0.1).kind;
    expect(kind).toBe('completed');
    expect(m.progress(0).dataProcessedBytes).toBeGreaterThan(GIB);
  });

  it('never converges when dirtying at the bandwidth, unless auto-converge throttles the guest', () => {
    const plain = new MigrationModel(GIB, { bandwidthMiBps: 1024 }, {}, GIB);
    for (let i = 0; i < 100; i++) expect(plain.advance(1).kind).toBe('running');
    const throttled = new MigrationModel(GIB, { bandwidthMiBps: 1024, autoConverge: true }, {}, GIB);
    let kind = 'running';
    for (let i = 0; i < 100 && kind === 'running'; i++) kind = throttled.advance(1).kind;
    expect(kind).toBe('completed');
  });

  it('switches to post-copy after the first pass when allowed', () => {
    const m = new MigrationModel(GIB, { bandwidthMiBps: 1024, postCopy: true }, {}, GIB);
    expect(m.advance(1.5).kind).toBe('switched-to-postcopy');
    expect(m.phase).toBe('postcopy');
    let kind = 'running';
    for (let i = 0; i < 10 && kind === 'running'; i++) kind = m.advance(1).kind;
    expect(kind).toBe('completed');
  });
});

describe('SimulatorDriver live migration', () => {
  it('moves a running domain with progress; the source keeps it until the switch-over, then the destination owns it', async () => {
    const { fleet, a, b } = fleetOf(20); // 1 GiB at 1 GiB/s: 50 ms
    await a.defineAndStart(spec('m'));
    const events: LifecycleEvent[] = [];
    await b.events((e) => events.push(e));
    await a.events((e) => events.push(e));
    const seen: MigrationProgress[] = [];
    let destinationDuring: string | undefined;
    const result = await a.migrate('m', {
      destinationUri: 'sim://b',
      onProgress: (p) => {
        seen.push(p);
        destinationDuring ??= fleet.host('b').domains.get('berth-m')?.state;
      },
    });
    expect(result).toEqual({ outcome: 'completed' });
    expect(await a.state('m')).toBeUndefined();
    expect(await b.state('m')).toBe('running');
    expect(destinationDuring).toBe('paused');
    expect(seen.length).toBeGreaterThan(1);
    expect(seen.at(-1)).toMatchObject({ dataRemainingBytes: 0, dataProcessedBytes: GIB, phase: 'precopy' });
    for (let i = 1; i < seen.length; i++) expect(seen[i]!.dataProcessedBytes).toBeGreaterThanOrEqual(seen[i - 1]!.dataProcessedBytes);
    expect(events.map((e) => `${e.kind} ${e.detail}`)).toEqual([
      'stopped Stopped Migrated',
      'undefined Undefined Removed',
      'started Started Migrated',
      'defined Defined Added',
    ]);
    expect(await a.migrationJob('m')).toBeUndefined();
  });

  it('aborts a pre-copy migration by signal or abortMigration: the domain stays running on the source, nothing on the destination', async () => {
    const { fleet, a, b } = fleetOf(1);
    await a.defineAndStart(spec('s', 64 * GIB)); // a minute at 1 GiB/s
    const ctl = new AbortController();
    const viaSignal = a.migrate('s', { destinationUri: 'sim://b', signal: ctl.signal, onProgress: () => ctl.abort() });
    expect((await failureOf(viaSignal)).failure).toBe('aborted');
    expect(await a.state('s')).toBe('running');
    expect(await b.state('s')).toBeUndefined();

    let job: MigrationProgress | undefined;
    const viaCall = a.migrate('s', {
      destinationUri: 'sim://b',
      onProgress: () => {
        if (job) return;
        void a.migrationJob('s').then(async (j) => {
          job = j;
          await a.abortMigration('s');
        });
      },
    });
    expect((await failureOf(viaCall)).failure).toBe('aborted');
    expect(job).toMatchObject({ phase: 'precopy', dataTotalBytes: 64 * GIB, iteration: 1 });
    expect(await a.state('s')).toBe('running');
    expect(fleet.host('b').domains.size).toBe(0);
  });

  it('fails as injected: destination define, mid-way, budget (never converges, timeout), each leaving the domain on the source', async () => {
    const { fleet, a, b } = fleetOf(100);
    await a.defineAndStart(spec('f'));
    fleet.injectMigrationFailure({ failure: 'destination-define', destinationHostId: 'b' });
    const define = await failureOf(a.migrate('f', { destinationUri: 'sim://b' }));
    expect(define).toMatchObject({ failure: 'failed-permanent', kind: 'permanent' });
    expect(define.message).toMatch(/refused to define/);

    fleet.injectMigrationFailure({ failure: 'mid-way', vmId: 'f', atFraction: 0.25 });
    const progress: MigrationProgress[] = [];
    const midway = await failureOf(a.migrate('f', { destinationUri: 'sim://b', onProgress: (p) => progress.push(p) }));
    expect(midway).toMatchObject({ failure: 'failed-transient', kind: 'transient' });
    expect(progress.at(-1)?.dataProcessedBytes).toBeCloseTo(0.25 * GIB, -3);

    fleet.injectMigrationFailure({ failure: 'never-converges', vmId: 'f' });
    const stuck = await failureOf(a.migrate('f', { destinationUri: 'sim://b', autoConverge: true, timeoutMillis: 150 }));
    expect(stuck.failure).toBe('failed-transient');
    expect(stuck.message).toMatch(/did not complete within 150 ms/);

    fleet.injectFailure('b', 'define', 'transient');
    expect((await failureOf(a.migrate('f', { destinationUri: 'sim://b' }))).failure).toBe('failed-transient');

    for (const s of [await a.state('f'), await b.state('f')]) expect(s === 'running' || s === undefined).toBe(true);
    expect(await a.state('f')).toBe('running');
    expect(await b.state('f')).toBeUndefined();
    // With nothing injected any more, the same migration succeeds.
    expect(await a.migrate('f', { destinationUri: 'sim://b' })).toEqual({ outcome: 'completed' });
    expect(await b.state('f')).toBe('running');
  });

  it('pauses a post-copy that loses its connection; abort is refused, resume completes it', async () => {
    const { fleet, a, b } = fleetOf(100);
    await a.defineAndStart(spec('p'));
    fleet.setDirtyRate('p', GIB);
    fleet.injectMigrationFailure({ failure: 'postcopy-connection-loss', vmId: 'p' });
    const phases = new Set<string>();
    const result = await a.migrate('p', { destinationUri: 'sim://b', postCopy: true, onProgress: (p) => phases.add(p.phase) });
    expect(result).toMatchObject({ outcome: 'postcopy-paused' });
    expect(phases.has('postcopy')).toBe(true);
    expect([await a.state('p'), await b.state('p')]).toEqual(['paused', 'running']);
    await expect(a.abortMigration('p')).rejects.toMatchObject({ kind: 'permanent' });
    expect(await a.migrationJob('p')).toMatchObject({ phase: 'postcopy' });
    await a.resumePostCopy('p', { destinationUri: 'sim://b' });
    expect(await a.state('p')).toBeUndefined();
    expect(await b.state('p')).toBe('running');
    // A retried resume of a finished migration changes nothing.
    await a.resumePostCopy('p', { destinationUri: 'sim://b' });
    await expect(a.resumePostCopy('zz', { destinationUri: 'sim://b' })).rejects.toMatchObject({ kind: 'permanent' });
  });

  it('refuses what cannot migrate: a missing or stopped domain, a second job, an unknown destination; creates hosts on demand with autoHost', async () => {
    const { a } = fleetOf(1);
    expect(await failureOf(a.migrate('nope', { destinationUri: 'sim://b' }))).toMatchObject({
      failure: 'failed-permanent',
      kind: 'not-found',
    });
    await a.define(spec('off'));
    expect((await failureOf(a.migrate('off', { destinationUri: 'sim://b' }))).failure).toBe('failed-permanent');
    await a.defineAndStart(spec('busy', 64 * GIB));
    const ctl = new AbortController();
    const first = a.migrate('busy', { destinationUri: 'sim://b', signal: ctl.signal });
    expect((await failureOf(a.migrate('busy', { destinationUri: 'sim://b' }))).failure).toBe('failed-transient');
    ctl.abort();
    expect((await failureOf(first)).failure).toBe('aborted');
    expect((await failureOf(a.migrate('busy', { destinationUri: 'sim://zz' }))).failure).toBe('failed-transient');

    const auto = new SimulatorFleet({ autoHost: { cpus: 4, memoryBytes: 8 * GIB }, migration: { timeScale: 1000, stepMillis: 1 } });
    const x = auto.driver(auto.addHost({ hostId: 'x', cpus: 4, memoryBytes: 8 * GIB }));
    await x.defineAndStart(spec('v'));
    expect(await x.migrate('v', { destinationUri: 'sim://y' })).toEqual({ outcome: 'completed' });
    expect(await auto.driver('sim://y').state('v')).toBe('running');
  });
});
