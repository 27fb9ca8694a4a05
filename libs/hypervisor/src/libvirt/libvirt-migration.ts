/**
 * The libvirt driver's live migrations (`virsh migrate --live --persistent --undefinesource`): the
 * destination's definition retargeted to its claim (`--xml` / `--persistent-xml`), the disks copied
 * (`--copy-storage-all`) into volumes created first on the destination, progress from the source's
 * job, aborts through `domjobabort`, post-copy resume.
 */
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MigrateOptions, MigrationProgress, MigrationResult } from '../driver.ts';
import { HypervisorError, MigrationError, type MigrationFailure } from '../errors.ts';
import { domainName } from '../naming.ts';
import { migrateArgs, parseJobInfo } from './migrate-args.ts';
import { berthVolumesOf, retargetDomainXml } from './migration-xml.ts';
import { classifyVirshError, runVirsh, virshCommand, type VirshOptions } from './virsh.ts';

const EXISTS = /already exists|already in use|exists already/i;
const GONE = /not found|no storage vol/i;

/** What a migration set up before `virsh migrate` ran, and how to finish or undo it. */
interface Prepared {
  readonly args: string[];
  /** Destination volumes this call created (deleted again when the migration fails). */
  readonly created: readonly { pool: string; name: string }[];
  /** The source's volumes, deleted once the domain runs on the destination with its copy of them. */
  readonly sourceVolumes: readonly { pool: string; name: string }[];
  readonly dir?: string;
}

export class LibvirtMigrations {
  constructor(
    private readonly uri: string,
    private readonly virsh: VirshOptions,
    /** virsh against this (the source) host, through the driver's per-host limit. */
    private readonly run: (args: string[]) => Promise<string>,
  ) {}

  async migrate(vmId: string, opts: MigrateOptions): Promise<MigrationResult> {
    if (opts.signal?.aborted) throw new MigrationError('aborted', this.uri, 'migration aborted before it started');
    const name = domainName(vmId);
    // libvirt would wait 30 s for the job lock before refusing a second migration: refuse at once.
    const running = await this.migrationJob(vmId).catch(() => undefined);
    if (running) throw new MigrationError('failed-transient', this.uri, `a migration job of ${name} is already running on the source`);
    const prepared = await this.prepare(name, opts).catch((e: unknown) => {
      if (e instanceof MigrationError) throw e;
      const kind = e instanceof HypervisorError ? e.kind : 'permanent';
      const failure = kind === 'transient' ? 'failed-transient' : 'failed-permanent';
      throw new MigrationError(
        failure,
        this.uri,
        `preparing the migration of ${name}: ${e instanceof Error ? e.message : String(e)}`,
        kind,
      );
    });
    try {
      const result = await this.runMigration(name, prepared.args, opts);
      // The guest runs on the destination from its own copy of the disks: the source's go.
      if (result.outcome === 'completed') await this.deleteVolumes(this.virsh, prepared.sourceVolumes);
      return result;
    } catch (e) {
      // Pre-copy failed: the guest runs on the source; what was created for it on the destination goes.
      await this.deleteVolumes({ ...this.virsh, uri: opts.destinationUri }, prepared.created);
      throw e;
    } finally {
      if (prepared.dir !== undefined) await rm(prepared.dir, { recursive: true, force: true });
    }
  }

  /**
   * The destination's definitions (the source's migratable XML, live and persistent, retargeted to
   * `opts.destination`) written where virsh reads them, and with `copyStorage` the destination's
   * volumes created: the same size and format (raw), sparse when the spec allocates lazily.
   */
  private async prepare(name: string, opts: MigrateOptions): Promise<Prepared> {
    const spec = opts.destination;
    let dir: string | undefined;
    const files: { xmlFile?: string; persistentXmlFile?: string } = {};
    const created: { pool: string; name: string }[] = [];
    let sourceVolumes: { pool: string; name: string }[] = [];
    try {
      if (spec !== undefined || opts.copyStorage) {
        const live = await this.run(['dumpxml', '--migratable', name]);
        sourceVolumes = opts.copyStorage ? berthVolumesOf(live, name) : [];
        if (spec !== undefined) {
          const persistent = await this.run(['dumpxml', '--inactive', '--migratable', name]);
          dir = await mkdtemp(join(tmpdir(), 'berth-migrate-'));
          files.xmlFile = join(dir, 'live.xml');
          files.persistentXmlFile = join(dir, 'persistent.xml');
          await writeFile(files.xmlFile, retargetDomainXml(live, spec), { mode: 0o644 });
          await writeFile(files.persistentXmlFile, retargetDomainXml(persistent, spec), { mode: 0o644 });
          // virsh may run as another user (a session daemon's): it reads the files.
          await chmod(dir, 0o755);
        }
      }
      if (opts.copyStorage) {
        const dest = { ...this.virsh, uri: opts.destinationUri };
        const pools = new Map(sourceVolumes.map((v) => [v.name, v.pool]));
        for (const vol of spec?.volumes ?? []) {
          if (!pools.has(vol.name)) continue;
          const args = ['vol-create-as', vol.pool, vol.name, `${vol.sizeBytes}b`, '--format', 'raw'];
          if (spec?.lazyAllocation) args.push('--allocation', '0');
          try {
            await runVirsh(dest, args);
            created.push({ pool: vol.pool, name: vol.name });
          } catch (e) {
            if (!(e instanceof HypervisorError && EXISTS.test(e.message))) throw e;
          }
        }
      }
      return { args: migrateArgs(name, { ...opts, ...files }), created, sourceVolumes, ...(dir !== undefined && { dir }) };
    } catch (e) {
      await this.deleteVolumes({ ...this.virsh, uri: opts.destinationUri }, created);
      if (dir !== undefined) await rm(dir, { recursive: true, force: true });
      throw e;
    }
  }

  private async deleteVolumes(on: VirshOptions, volumes: readonly { pool: string; name: string }[]): Promise<void> {
    for (const v of volumes) {
      await runVirsh(on, ['vol-delete', '--pool', v.pool, v.name]).catch((e: unknown) => {
        if (e instanceof HypervisorError && GONE.test(e.message)) return '';
        throw e;
      });
    }
  }

  async resumePostCopy(vmId: string, opts: MigrateOptions): Promise<void> {
    const name = domainName(vmId);
    const { signal: _ignored, ...rest } = opts;
    const result = await this.runMigration(name, migrateArgs(name, { ...rest, postCopy: true }, true), rest);
    if (result.outcome !== 'completed') throw new HypervisorError('transient', 'migrate --postcopy-resume', this.uri, result.detail);
  }

  async abortMigration(vmId: string): Promise<void> {
    const name = domainName(vmId);
    if ((await this.phase(name)) === 'postcopy') {
      throw new HypervisorError('permanent', 'domjobabort', this.uri, `the migration of ${name} is in post-copy and cannot be aborted`);
    }
    await this.run(['domjobabort', name]).catch((e: unknown) => {
      if (e instanceof HypervisorError && /no job is active|not running|not active/i.test(e.message)) return '';
      throw e;
    });
  }

  async migrationJob(vmId: string): Promise<MigrationProgress | undefined> {
    const name = domainName(vmId);
    const [phase, text] = await Promise.all([
      this.phase(name),
      this.run(['domjobinfo', '--rawstats', name]).catch((e: unknown) => {
        if (e instanceof HypervisorError && e.kind === 'not-found') return '';
        throw e;
      }),
    ]);
    return parseJobInfo(text, phase);
  }

  /** `post-copy` in the source domain's state reason (`paused (post-copy)`, `paused (post-copy failed)`). */
  private async phase(name: string): Promise<'precopy' | 'postcopy'> {
    const text = await this.run(['domstate', '--reason', name]).catch((e: unknown) => {
      if (e instanceof HypervisorError && e.kind === 'not-found') return '';
      throw e;
    });
    return /post-copy/i.test(text) ? 'postcopy' : 'precopy';
  }

  /**
   * Runs `virsh migrate` (one long process, outside the per-host limiter) and, beside it, polls the
   * source's job for progress, sets the max downtime once the job exists, and aborts it with
   * `domjobabort` on the signal or the timeout while it is in pre-copy.
   */
  private runMigration(name: string, args: string[], opts: MigrateOptions): Promise<MigrationResult> {
    const [cmd, argv] = virshCommand(this.virsh, args);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    child.stdout.resume();
    child.stderr.on('data', (b: Buffer) => err.push(b));
    const interval = opts.progressIntervalMillis ?? 1000;
    let requested: MigrationFailure | undefined;
    let postcopy = false;
    let downtimeSet = opts.maxDowntimeMillis === undefined;
    let finished = false;
    let pollTimer: NodeJS.Timeout | undefined;
    const poll = async (): Promise<void> => {
      pollTimer = undefined;
      try {
        const phase = opts.postCopy ? await this.phase(name) : 'precopy';
        if (phase === 'postcopy') postcopy = true;
        const p = parseJobInfo(await this.run(['domjobinfo', '--rawstats', name]), phase);
        if (p && !finished) {
          if (!downtimeSet && phase === 'precopy') {
            await this.run(['migrate-setmaxdowntime', name, String(Math.max(1, Math.round(opts.maxDowntimeMillis ?? 300)))]);
            downtimeSet = true;
          }
          // Before data flows (the destination's QEMU starting) every count is 0: not progress yet.
          if (p.dataTotalBytes > 0) opts.onProgress?.(p);
        }
      } catch {
        // A reading that failed (the job ended meanwhile, the daemon is busy) is skipped; the
        // migrate process says how the migration ended.
      }
      if (!finished) pollTimer = setTimeout(() => void poll(), interval);
    };
    let killTimer: NodeJS.Timeout | undefined;
    // `domjobabort` until the migrate process ends: in its first moments (before the source has a job)
    // there is nothing to abort yet. A virsh that still has not ended after 30 s is killed: the source
    // daemon cancels a job whose client went away, and the domain stays on the source.
    const abort = (why: MigrationFailure): void => {
      if (finished || postcopy || requested) return;
      requested = why;
      const attempt = (): void => {
        if (finished || postcopy) return;
        void this.run(['domjobabort', name]).catch(() => {
          if (!finished) setTimeout(attempt, 250).unref();
        });
      };
      attempt();
      killTimer = setTimeout(() => child.kill('SIGTERM'), 30_000);
    };
    const onAbort = (): void => abort('aborted');
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    const deadline = opts.timeoutMillis !== undefined ? setTimeout(() => abort('failed-transient'), opts.timeoutMillis) : undefined;
    // The first reading comes soon, so the max downtime applies from the start.
    pollTimer = setTimeout(() => void poll(), Math.min(200, interval));
    return new Promise<MigrationResult>((resolve, reject) => {
      child.on('error', (e) => {
        finished = true;
        reject(new MigrationError('failed-permanent', this.uri, `cannot run ${cmd}: ${e.message}`));
      });
      child.on('close', (code) => {
        finished = true;
        if (pollTimer) clearTimeout(pollTimer);
        if (deadline) clearTimeout(deadline);
        if (killTimer) clearTimeout(killTimer);
        opts.signal?.removeEventListener('abort', onAbort);
        const stderr = Buffer.concat(err).toString('utf8').trim();
        if (code === 0) return resolve({ outcome: 'completed' });
        void (async () => {
          // After a post-copy switch-over a failure leaves the domain paused on both sides.
          if (postcopy || opts.postCopy) {
            const phase = await this.phase(name).catch(() => 'precopy' as const);
            if (phase === 'postcopy') return resolve({ outcome: 'postcopy-paused', detail: stderr || `virsh migrate exit code ${code}` });
          }
          const message = stderr || `virsh migrate exit code ${code}`;
          if (requested === 'failed-transient') {
            return reject(
              new MigrationError('failed-transient', this.uri, `migration did not complete within ${opts.timeoutMillis} ms: ${message}`),
            );
          }
          if (requested === 'aborted' || /operation aborted|canceled by client|cancelled by client/i.test(stderr)) {
            return reject(new MigrationError('aborted', this.uri, message));
          }
          // Another job on the domain (a migration still running from a caller that crashed, a lifecycle
          // change): it ends by itself, so trying again later may work.
          if (/active job|already being migrated|another migration|job .* is active|cannot acquire state change lock/i.test(stderr)) {
            return reject(new MigrationError('failed-transient', this.uri, message));
          }
          const kind = classifyVirshError(stderr);
          reject(new MigrationError(kind === 'transient' ? 'failed-transient' : 'failed-permanent', this.uri, message, kind));
        })();
      });
    });
  }
}
