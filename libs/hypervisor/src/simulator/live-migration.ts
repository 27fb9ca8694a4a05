import type { DomainState, MigrateOptions, MigrationProgress, MigrationResult } from '../driver.ts';
import { HypervisorError, MigrationError, type HypervisorErrorKind } from '../errors.ts';
import { domainName } from '../naming.ts';
import { MigrationModel } from './migration.ts';
import type { SimulatorFleet } from './simulator.ts';
import { simHostOf, type SimHost, type SimJob } from './state.ts';

/**
 * Live migration between two hosts of a simulated fleet, as libvirt shows it: the destination
 * domain appears paused, the job advances on MigrationModel in (scaled) real time, pre-copy can be
 * aborted, a post-copy switch-over cannot, and a post-copy that lost its connection waits for
 * `resumePostCopy`. Jobs are kept in the fleet (`fleet.jobs`, by `<source host>/<vmId>`).
 */

/** The source side of a migration: the host a SimulatorDriver drives. */
export interface SimSide {
  readonly fleet: SimulatorFleet;
  readonly hostId: string;
  readonly uri: string;
}

export async function startMigration(side: SimSide, vmId: string, opts: MigrateOptions): Promise<MigrationResult> {
  const fail = (failure: 'aborted' | 'failed-transient' | 'failed-permanent', why: string, kind?: HypervisorErrorKind): MigrationError =>
    new MigrationError(failure, side.uri, why, kind);
  if (opts.signal?.aborted) throw fail('aborted', 'migration aborted before it started');
  let host: SimHost;
  try {
    host = await side.fleet.operate(side.hostId, 'migrate');
  } catch (e) {
    throw asMigrationError(e, side.uri);
  }
  const name = domainName(vmId);
  const d = host.domains.get(name);
  if (!d || d.incoming) throw fail('failed-permanent', `Domain not found: ${name}`, 'not-found');
  if (d.state !== 'running' && d.state !== 'paused') throw fail('failed-permanent', `domain ${name} is not running (${d.state})`);
  const key = `${side.hostId}/${vmId}`;
  if (side.fleet.jobs.has(key)) throw fail('failed-transient', `another migration job of ${name} is already running`);
  const destId = simHostOf(opts.destinationUri);
  if (destId === undefined) throw fail('failed-permanent', `${opts.destinationUri} is not a sim://<host> URI`);
  if (destId === side.hostId) throw fail('failed-permanent', 'the destination is the source');
  let destHost: SimHost;
  try {
    destHost = side.fleet.host(destId);
  } catch (e) {
    throw asMigrationError(e, side.uri);
  }
  if (destHost.domains.has(name)) throw fail('failed-permanent', `domain ${name} already exists on ${opts.destinationUri}`);
  const rule = side.fleet.takeMigrationFailure(vmId, side.hostId, destId);
  if (rule?.failure === 'destination-define') throw fail('failed-permanent', `${opts.destinationUri} refused to define ${name} (injected)`);
  try {
    await side.fleet.operate(destId, 'define');
  } catch (e) {
    throw asMigrationError(e, side.uri);
  }
  if (destHost.domains.has(name) || host.domains.get(name) !== d || side.fleet.jobs.has(key)) {
    throw fail('failed-transient', `${name} changed while the migration was being prepared`);
  }
  const settings = side.fleet.migrationSettings;
  const model = new MigrationModel(
    d.spec.memoryBytes,
    opts,
    settings,
    side.fleet.dirtyRateOf(vmId),
    rule ? { failure: rule.failure, atFraction: Math.min(1, Math.max(0, rule.atFraction ?? 0.5)) } : undefined,
  );
  const job: SimJob = {
    model,
    startedAt: Date.now(),
    destinationHostId: destId,
    ...(opts.destination && { destinationSpec: opts.destination }),
  };
  side.fleet.jobs.set(key, job);
  destHost.domains.set(name, { state: 'paused', spec: opts.destination ?? d.spec, incoming: true });
  return runJob(side, vmId, job, opts, d.state);
}

/** Drives a job in real time until it completes, fails, is aborted or its post-copy pauses. */
function runJob(side: SimSide, vmId: string, job: SimJob, opts: MigrateOptions, finalState: DomainState): Promise<MigrationResult> {
  const settings = side.fleet.migrationSettings;
  const name = domainName(vmId);
  const key = `${side.hostId}/${vmId}`;
  const scale = settings.timeScale ?? 1;
  const stepMillis = settings.stepMillis ?? 10;
  const interval = opts.progressIntervalMillis ?? settings.progressIntervalMillis ?? 1000;
  const src = (): SimHost => side.fleet.host(side.hostId);
  const dst = (): SimHost => side.fleet.host(job.destinationHostId);
  return new Promise<MigrationResult>((resolve, reject) => {
    let last = Date.now();
    let lastReport = last;
    let timer: NodeJS.Timeout | undefined;
    let deadline: NodeJS.Timeout | undefined;
    const onAbort = (): void => job.abort?.('aborted', 'migration aborted');
    const finish = (): void => {
      if (timer) clearTimeout(timer);
      if (deadline) clearTimeout(deadline);
      opts.signal?.removeEventListener('abort', onAbort);
    };
    const rollBack = (failure: 'aborted' | 'failed-transient' | 'failed-permanent', why: string): void => {
      finish();
      side.fleet.jobs.delete(key);
      const incoming = dst().domains.get(name);
      if (incoming?.incoming) dst().domains.delete(name);
      reject(new MigrationError(failure, side.uri, why));
    };
    job.abort = (failure, why) => rollBack(failure, why);
    const tick = (): void => {
      timer = undefined;
      const now = Date.now();
      const source = src().domains.get(name);
      if (job.model.phase === 'precopy' && (!source || (source.state !== 'running' && source.state !== 'paused'))) {
        rollBack('failed-permanent', `${name} stopped on the source during the migration`);
        return;
      }
      const step = job.model.advance(((now - last) / 1000) * scale);
      last = now;
      if (opts.onProgress && (now - lastReport >= interval || step.kind !== 'running')) {
        lastReport = now;
        opts.onProgress(job.model.progress(now - job.startedAt));
      }
      switch (step.kind) {
        case 'running':
          break;
        case 'switched-to-postcopy': {
          // The guest now runs on the destination; the source holds the memory not yet sent.
          job.abort = undefined;
          const s = src().domains.get(name);
          const t = dst().domains.get(name);
          if (s) s.state = 'paused';
          if (t) t.state = 'running';
          side.fleet.emit(side.hostId, name, 'suspended', 'Suspended Post-copy');
          side.fleet.emit(job.destinationHostId, name, 'resumed', 'Resumed Post-copy');
          break;
        }
        case 'connection-lost':
          if (step.phase === 'precopy') {
            rollBack('failed-transient', 'connection to the destination lost during pre-copy (injected): Connection reset by peer');
            return;
          } else {
            finish();
            job.paused = true;
            const s = src().domains.get(name);
            const t = dst().domains.get(name);
            // As libvirt shows it: the source `paused (post-copy failed)`, the destination still
            // `running (post-copy failed)` (its vCPUs stall on every page left on the source).
            if (s) s.state = 'paused';
            if (t) t.state = 'running';
            side.fleet.emit(side.hostId, name, 'suspended', 'Suspended Post-copy Error');
            resolve({
              outcome: 'postcopy-paused',
              detail: 'connection to the destination lost during post-copy (injected); resume with migrate --postcopy-resume',
            });
            return;
          }
        case 'completed': {
          finish();
          side.fleet.jobs.delete(key);
          const t = dst().domains.get(name);
          const s = src().domains.get(name);
          dst().domains.set(name, { state: finalState, spec: job.destinationSpec ?? s?.spec ?? t?.spec ?? side.fleet.specOf(job, name) });
          src().domains.delete(name);
          // The simulator's hosts share no storage: the disks travel with the guest (as with
          // --copy-storage-all), into the destination's pools when its spec names them.
          for (const [key, size] of [...src().volumes]) {
            const vol = key.split('/')[1] ?? '';
            if (!vol.startsWith(`${name}-disk`)) continue;
            src().volumes.delete(key);
            const pool = job.destinationSpec?.volumes.find((v) => v.name === vol)?.pool ?? key.split('/')[0];
            dst().volumes.set(`${pool}/${vol}`, size);
          }
          side.fleet.emit(side.hostId, name, 'stopped', 'Stopped Migrated');
          side.fleet.emit(side.hostId, name, 'undefined', 'Undefined Removed');
          side.fleet.emit(
            job.destinationHostId,
            name,
            job.model.phase === 'postcopy' ? 'resumed' : 'started',
            job.model.phase === 'postcopy' ? 'Resumed Post-copy' : 'Started Migrated',
          );
          side.fleet.emit(job.destinationHostId, name, 'defined', 'Defined Added');
          resolve({ outcome: 'completed' });
          return;
        }
      }
      timer = setTimeout(tick, stepMillis);
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    if (opts.timeoutMillis !== undefined) {
      deadline = setTimeout(
        () => job.abort?.('failed-transient', `migration did not complete within ${opts.timeoutMillis} ms`),
        opts.timeoutMillis,
      );
    }
    timer = setTimeout(tick, 0);
  });
}

export async function abortMigration(side: SimSide, vmId: string): Promise<void> {
  await side.fleet.operate(side.hostId, 'state');
  const job = side.fleet.jobs.get(`${side.hostId}/${vmId}`);
  if (!job) return;
  if (!job.abort) {
    throw new HypervisorError(
      'permanent',
      'domjobabort',
      side.uri,
      `the migration of ${domainName(vmId)} is in post-copy and cannot be aborted`,
    );
  }
  job.abort('aborted', 'migration aborted (domjobabort)');
}

export async function resumePostCopy(side: SimSide, vmId: string, opts: MigrateOptions): Promise<void> {
  await side.fleet.operate(side.hostId, 'migrate');
  const name = domainName(vmId);
  const job = side.fleet.jobs.get(`${side.hostId}/${vmId}`);
  if (!job?.paused) {
    const destId = simHostOf(opts.destinationUri);
    const there = destId !== undefined ? side.fleet.host(destId).domains.get(name) : undefined;
    // Already finished (a retried resume): the domain is gone from here and complete there.
    if (!side.fleet.host(side.hostId).domains.has(name) && there && !there.incoming) return;
    throw new HypervisorError('permanent', 'migrate --postcopy-resume', side.uri, `no paused post-copy migration of ${name}`);
  }
  job.paused = false;
  job.model.clearFailure();
  const result = await runJob(side, vmId, job, { ...opts, signal: undefined }, 'running');
  if (result.outcome !== 'completed') throw new HypervisorError('transient', 'migrate --postcopy-resume', side.uri, result.detail);
}

export async function migrationJob(side: SimSide, vmId: string): Promise<MigrationProgress | undefined> {
  await side.fleet.operate(side.hostId, 'state');
  const job = side.fleet.jobs.get(`${side.hostId}/${vmId}`);
  return job ? job.model.progress(Date.now() - job.startedAt) : undefined;
}

function asMigrationError(e: unknown, uri: string): MigrationError {
  if (e instanceof MigrationError) return e;
  if (e instanceof HypervisorError)
    return new MigrationError(e.kind === 'transient' ? 'failed-transient' : 'failed-permanent', uri, e.message, e.kind);
  return new MigrationError('failed-transient', uri, e instanceof Error ? e.message : String(e));
}
