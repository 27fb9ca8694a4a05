import { spawn } from 'node:child_process';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { DomainSpec } from '../domain-spec.ts';
import type {
  DomainInfo,
  DomainState,
  DriverCapabilities,
  EventSubscription,
  HostFacts,
  HypervisorDriver,
  LifecycleEvent,
  MemoryStats,
  MigrateOptions,
  MigrationProgress,
  MigrationResult,
  StopOptions,
  CopyVolumesOptions,
  UndefineOptions,
} from '../driver.ts';
import { HypervisorError, MigrationError } from '../errors.ts';
import { domainName, vmIdOfDomain, volumeName } from '../naming.ts';
import { buildDomainXml, type VirtType } from './domain-xml.ts';
import { parseDommemstat, parseDomstatsStates, parseEventLine, parseHostFacts, stateFromText } from './parse.ts';
import { LibvirtMigrations } from './libvirt-migration.ts';
import { copyVolumes } from './volume-copy.ts';
import type { LimitFunction } from 'p-limit';
import { runVirsh, virshLimiter, virshCommand, type RunAs, type VirshOptions } from './virsh.ts';

export interface LibvirtDriverOptions {
  readonly uri: string;
  /** Domain type; default `test` for test:// URIs, else `kvm` when the host's capabilities offer it, else `qemu` (TCG). */
  readonly virtType?: VirtType;
  readonly runAs?: RunAs;
  readonly callTimeoutMillis?: number;
  /** Concurrent virsh processes for this host (default 4). */
  readonly concurrency?: number;
  /** How often stop() polls the state while waiting for a graceful shutdown. */
  readonly pollMillis?: number;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Drives one libvirt host through the `virsh` client: any URI virsh understands. */
export class LibvirtDriver implements HypervisorDriver {
  readonly uri: string;
  readonly capabilities: DriverCapabilities;
  private virtType: VirtType | undefined;
  private readonly virsh: VirshOptions;
  private readonly limit: LimitFunction;
  private readonly pollMillis: number;
  private readonly subscriptions = new Set<EventSubscription>();
  private readonly migrations: LibvirtMigrations;

  constructor(opts: LibvirtDriverOptions) {
    this.uri = opts.uri;
    const isTest = opts.uri.startsWith('test');
    this.virtType = opts.virtType ?? (isTest ? 'test' : undefined);
    this.virsh = { uri: opts.uri, timeoutMillis: opts.callTimeoutMillis ?? 30_000, ...(opts.runAs ? { runAs: opts.runAs } : {}) };
    this.limit = virshLimiter(opts.concurrency ?? 4);
    this.pollMillis = opts.pollMillis ?? 250;
    this.migrations = new LibvirtMigrations(opts.uri, this.virsh, (args) => this.run(args));
    // The test driver cannot migrate and reports canned memory statistics.
    this.capabilities = {
      liveMigration: !isTest,
      balloon: true,
      memoryStats: true,
      numa: true,
      cpuPinning: true,
      hugepages: !isTest,
      pciPassthrough: !isTest,
      lifecycleEvents: true,
      // vol-download / vol-upload: the test driver has no volume streams.
      volumeCopy: !isTest,
    };
  }

  private run(args: string[]): Promise<string> {
    return this.limit(() => runVirsh(this.virsh, args));
  }

  private async ignoring(kind: 'not-found' | RegExp, fn: () => Promise<unknown>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (!(e instanceof HypervisorError)) throw e;
      if (kind === 'not-found' ? e.kind === 'not-found' : kind.test(e.message)) return;
      throw e;
    }
  }

  async defineAndStart(spec: DomainSpec): Promise<void> {
    await this.createVolumes(spec);
    await this.define(spec);
    await this.start(spec.vmId);
  }

  async createVolumes(spec: DomainSpec): Promise<void> {
    for (const vol of spec.volumes) {
      const args = ['vol-create-as', vol.pool, vol.name, `${vol.sizeBytes}b`, '--format', 'raw'];
      // Sparse when lazy: allocation 0 takes space only as the guest writes.
      if (spec.lazyAllocation) args.push('--allocation', '0');
      await this.ignoring(/already exists|already in use|exists already/i, () => this.run(args));
    }
  }

  async define(spec: DomainSpec): Promise<void> {
    // virsh reads the document from a file; node's stdio pipes are sockets, which /dev/stdin cannot open.
    const dir = await mkdtemp(join(tmpdir(), 'berth-define-'));
    try {
      const file = join(dir, 'domain.xml');
      await writeFile(
        file,
        buildDomainXml(spec, await this.resolveVirtType(), { userNetworking: /^qemu(\+\w+)?:\/\/[^/]*\/session/.test(this.uri) }),
        { mode: 0o644 },
      );
      await chmod(dir, 0o755);
      await this.run(['define', file]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  private async resolveVirtType(): Promise<VirtType> {
    // An unprivileged session daemon (or a host without /dev/kvm) offers only TCG.
    this.virtType ??= /<domain type=['"]kvm['"]/.test(await this.run(['capabilities'])) ? 'kvm' : 'qemu';
    return this.virtType;
  }

  async start(vmId: string): Promise<void> {
    await this.ignoring(/already active|is already running/i, () => this.run(['start', domainName(vmId)]));
  }

  async reboot(vmId: string): Promise<void> {
    await this.run(['reboot', domainName(vmId)]);
  }

  async stop(vmId: string, opts: StopOptions): Promise<'graceful' | 'forced' | 'already-stopped'> {
    const before = await this.state(vmId);
    if (before === undefined || before === 'shut-off' || before === 'crashed') return 'already-stopped';
    await this.ignoring(/not running|domain is not running/i, () => this.run(['shutdown', domainName(vmId)]));
    const deadline = Date.now() + opts.gracefulTimeoutMillis;
    for (;;) {
      const s = await this.state(vmId);
      if (s === undefined || s === 'shut-off') return 'graceful';
      if (Date.now() >= deadline) break;
      await sleep(this.pollMillis);
    }
    await this.destroy(vmId);
    return 'forced';
  }

  async destroy(vmId: string): Promise<void> {
    try {
      await this.run(['destroy', domainName(vmId)]);
    } catch (e) {
      if (e instanceof HypervisorError && (e.kind === 'not-found' || /not running/i.test(e.message))) return;
      throw e;
    }
  }

  async undefine(vmId: string, opts: UndefineOptions = {}): Promise<void> {
    const name = domainName(vmId);
    const xmlText = await this.run(['dumpxml', '--inactive', name]).catch((e: unknown) => {
      if (e instanceof HypervisorError && e.kind === 'not-found') return undefined;
      throw e;
    });
    if (xmlText === undefined) {
      if (!opts.keepVolumes) await this.deleteOrphanVolumes(vmId);
      return;
    }
    await this.destroy(vmId);
    // Volumes Berth created are named after the domain; they go before it, so a domain that is gone
    // means its volumes are gone too (and an undefine interrupted in between finds the domain again).
    const vols = [...xmlText.matchAll(/<source pool='([^']+)' volume='([^']+)'/g)];
    for (const [, pool = '', vol = ''] of opts.keepVolumes ? [] : vols) {
      if (vol.startsWith(name)) await this.ignoring(/not found|no storage vol/i, () => this.run(['vol-delete', '--pool', pool, vol]));
    }
    await this.ignoring('not-found', () => this.run(['undefine', name]));
  }

  /**
   * Volumes named after the VM's disks (`volumeName`) in any active pool, for an undefine whose domain
   * is already gone: a delete interrupted between undefining the domain and deleting its volumes, or
   * volumes created before the domain was defined, would otherwise stay behind for good.
   */
  private async deleteOrphanVolumes(vmId: string): Promise<void> {
    const prefix = volumeName(vmId, 0).slice(0, -1); // `<domain>-disk`
    const ours = (v: string): boolean => v.startsWith(prefix) && /^\d+$/.test(v.slice(prefix.length));
    const pools = (await this.run(['pool-list', '--name']))
      .split('\n')
      .map((p) => p.trim())
      .filter(Boolean);
    for (const pool of pools) {
      const vols = (await this.run(['vol-list', '--pool', pool]))
        .split('\n')
        .map((l) => l.trim().split(/\s+/)[0] ?? '')
        .filter(ours);
      for (const vol of vols) await this.ignoring(/not found|no storage vol/i, () => this.run(['vol-delete', '--pool', pool, vol]));
    }
  }

  async copyVolumes(spec: DomainSpec, opts: CopyVolumesOptions): Promise<void> {
    if (!this.capabilities.volumeCopy)
      throw new HypervisorError('permanent', 'copyVolumes', this.uri, 'the test driver cannot copy volumes');
    // The destination is reached as this host's virsh reaches it (the same user, no concurrency limit of its own).
    await this.limit(() => copyVolumes(this.virsh, { ...this.virsh, uri: opts.destinationUri }, spec, runVirsh, opts.destinationVolumes));
  }

  async state(vmId: string): Promise<DomainState | undefined> {
    try {
      return stateFromText((await this.run(['domstate', domainName(vmId)])).split('\n')[0] ?? '');
    } catch (e) {
      if (e instanceof HypervisorError && e.kind === 'not-found') return undefined;
      throw e;
    }
  }

  async listDomains(): Promise<DomainInfo[]> {
    const text = await this.run(['domstats', '--state', '--raw']);
    return parseDomstatsStates(text).map(({ name, state }) => {
      const vmId = vmIdOfDomain(name);
      return { name, state, ...(vmId !== undefined ? { vmId } : {}) };
    });
  }

  async hostFacts(): Promise<HostFacts> {
    const [nodeinfo, caps] = await Promise.all([this.run(['nodeinfo']), this.run(['capabilities'])]);
    return parseHostFacts(nodeinfo, caps);
  }

  async memoryStats(vmId: string): Promise<MemoryStats> {
    return parseDommemstat(await this.run(['dommemstat', domainName(vmId)]));
  }

  async setBalloonTarget(vmId: string, bytes: number): Promise<void> {
    await this.run(['setmem', domainName(vmId), `${Math.ceil(bytes / 1024)}`, '--live']);
  }

  async migrate(vmId: string, opts: MigrateOptions): Promise<MigrationResult> {
    if (!this.capabilities.liveMigration) throw new MigrationError('failed-permanent', this.uri, 'this hypervisor cannot live-migrate');
    return this.migrations.migrate(vmId, opts);
  }

  resumePostCopy(vmId: string, opts: MigrateOptions): Promise<void> {
    return this.migrations.resumePostCopy(vmId, opts);
  }

  abortMigration(vmId: string): Promise<void> {
    return this.migrations.abortMigration(vmId);
  }

  migrationJob(vmId: string): Promise<MigrationProgress | undefined> {
    return this.migrations.migrationJob(vmId);
  }

  async events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription> {
    const [cmd, argv] = virshCommand(this.virsh, ['event', '--all', '--loop']);
    const child = spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
    const lines = createInterface({ input: child.stdout });
    lines.on('line', (line) => {
      const e = parseEventLine(line);
      if (e) onEvent(e);
    });
    child.stderr.resume();
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', (e) => reject(new HypervisorError('transient', 'virsh event', this.uri, e.message)));
    });
    const sub: EventSubscription = {
      close: async () => {
        this.subscriptions.delete(sub);
        if (child.exitCode !== null || child.signalCode !== null) return;
        const done = new Promise<void>((r) => child.once('close', () => r()));
        child.kill('SIGTERM');
        await done;
      },
    };
    this.subscriptions.add(sub);
    return sub;
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
  }
}
