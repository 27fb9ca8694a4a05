/**
 * The one driver interface every hypervisor backend implements (libvirt through virsh, LXD over
 * its REST API, the simulator). The executor only ever talks to this interface; what a backend cannot do it
 * declares in `capabilities` instead of failing at run time.
 */
import type { DomainSpec } from './domain-spec.ts';

export type DomainState = 'running' | 'blocked' | 'paused' | 'shutting-down' | 'shut-off' | 'crashed' | 'suspended' | 'no-state';

export interface DomainInfo {
  readonly name: string;
  readonly state: DomainState;
  /** The VM id when the domain is one Berth created (named `berth-<vmId>`), else undefined. */
  readonly vmId?: string;
}

export interface HostNumaNode {
  readonly id: number;
  readonly cpus: readonly number[];
  readonly memoryBytes: number;
  readonly hugepages: readonly { readonly pageSizeBytes: number; readonly total: number }[];
}

export interface HostFacts {
  readonly cpuModel: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly topology: { readonly sockets: number; readonly coresPerSocket: number; readonly threadsPerCore: number };
  /** Empty when the hypervisor reports no NUMA topology. */
  readonly numaNodes: readonly HostNumaNode[];
  /** GPUs by PCI address, where the hypervisor reports them (LXD's `/1.0/resources`). */
  readonly gpus?: readonly { readonly address: string; readonly vendor: string; readonly product: string }[];
  /** NICs able to give SR-IOV VFs, with their maximum VF count, where the hypervisor reports them. */
  readonly sriovNics?: readonly { readonly name: string; readonly vfs: number }[];
}

/** Guest memory statistics as the hypervisor reports them (absent fields were not reported). */
export interface MemoryStats {
  readonly actualBytes: number;
  readonly rssBytes?: number;
  readonly availableBytes?: number;
  readonly usableBytes?: number;
  readonly unusedBytes?: number;
  readonly swapInBytes?: number;
  readonly swapOutBytes?: number;
  readonly majorFaults?: number;
  readonly minorFaults?: number;
}

export type LifecycleKind = 'defined' | 'undefined' | 'started' | 'suspended' | 'resumed' | 'stopped' | 'shutdown' | 'crashed' | 'other';

export interface LifecycleEvent {
  readonly domain: string;
  readonly vmId?: string;
  readonly kind: LifecycleKind;
  /** The hypervisor's own words, e.g. `Stopped Shutdown`. */
  readonly detail: string;
}

export interface EventSubscription {
  close(): Promise<void>;
}

export interface DriverCapabilities {
  readonly liveMigration: boolean;
  readonly balloon: boolean;
  readonly memoryStats: boolean;
  readonly numa: boolean;
  readonly cpuPinning: boolean;
  readonly hugepages: boolean;
  readonly pciPassthrough: boolean;
  readonly lifecycleEvents: boolean;
  /** `copyVolumes`: a stopped domain's disks copied to another host (cold moves without shared storage). */
  readonly volumeCopy: boolean;
}

export interface StopOptions {
  /** How long the guest gets to shut down before it is forced off. */
  readonly gracefulTimeoutMillis: number;
}

/**
 * A live migration of a running domain from the host this driver drives (the source) to another.
 * On libvirt: `virsh migrate --live --persistent --undefinesource` (the definition moves with the
 * domain). Pre-copy keeps the source authoritative: until the switch-over, any failure or abort
 * leaves the domain running on the source. After a post-copy switch-over nothing can abort it.
 */
export interface MigrateOptions {
  /** Connection URI of the destination host, as the source host (the caller) reaches it. */
  readonly destinationUri: string;
  /** Data-plane URI (`tcp://10.0.0.2`, no port: the destination picks one of its range) when it differs from the control connection. */
  readonly migrateUri?: string;
  /** The address the destination listens on for the data (`--listen-address`). */
  readonly listenAddress?: string;
  /** Bandwidth limit in MiB/s (`--bandwidth`). Unlimited when absent. */
  readonly bandwidthMiBps?: number;
  /** Bandwidth limit of the post-copy phase in MiB/s (`--postcopy-bandwidth`). Unlimited when absent. */
  readonly postCopyBandwidthMiBps?: number;
  /** Largest pause allowed at the switch-over, in milliseconds (`migrate-setmaxdowntime`). */
  readonly maxDowntimeMillis?: number;
  /** Throttle the guest's vCPUs when it dirties memory faster than it can be sent (`--auto-converge`). */
  readonly autoConverge?: boolean;
  /** Allow switching to post-copy after the first pre-copy pass (`--postcopy --postcopy-after-precopy`). Off by default. */
  readonly postCopy?: boolean;
  /**
   * Copy the disks too (`--copy-storage-all`), for hosts without shared storage: the destination's
   * volumes (those of `destination`) are created first, of the same size and format; once the move
   * completed the source's copies are deleted, and a migration that fails deletes what it created.
   */
  readonly copyStorage?: boolean;
  /**
   * The domain as it is to be on the destination: built from the destination's claim (its pinned
   * CPUs, NUMA placement and volume pools), which are not the source's. libvirt rewrites the running
   * domain's migratable definition with them (`--xml`, and `--persistent-xml` for the definition
   * kept there); without it the destination gets the source's pinning.
   */
  readonly destination?: DomainSpec;
  /** Aborts a pre-copy migration (`domjobabort`): the domain keeps running on the source. Ignored after a post-copy switch-over. */
  readonly signal?: AbortSignal;
  /**
   * Progress as the source reports it, at a bounded rate (about once per `progressIntervalMillis`),
   * once data flows (libvirt's job first spends a moment with every count at 0: not reported).
   */
  readonly onProgress?: (p: MigrationProgress) => void;
  /** How often progress is read and reported (default 1000 ms). */
  readonly progressIntervalMillis?: number;
  /** Hard limit for the whole call; past it a pre-copy migration is aborted (rejects `failed-transient`). Default: none. */
  readonly timeoutMillis?: number;
}

/** A copy of a stopped domain's volumes to another host (a cold move between hosts that do not share storage). */
export interface CopyVolumesOptions {
  /** Connection URI of the destination host, as the source host (the caller) reaches it. */
  readonly destinationUri: string;
  /**
   * The volumes as they are to be on the destination (its claim's pools), in the order of the spec's;
   * matched by name. Absent: the same pools as here.
   */
  readonly destinationVolumes?: DomainSpec['volumes'];
}

/** Undefining a domain. */
export interface UndefineOptions {
  /**
   * Keep the volumes Berth created for it: after a cold move on shared storage they are the
   * destination's disks too (the same files), so deleting them here would delete the moved VM's disks.
   */
  readonly keepVolumes?: boolean;
}

/** One reading of the migration job on the source (libvirt: `domjobinfo --rawstats`). */
export interface MigrationProgress {
  /** Bytes to transfer in total so far (memory + disks); grows as dirtied memory is sent again. */
  readonly dataTotalBytes: number;
  readonly dataProcessedBytes: number;
  readonly dataRemainingBytes: number;
  readonly memoryDirtyRateBytesPerSecond?: number;
  /** The pre-copy pass over memory (1 = first pass). */
  readonly iteration?: number;
  /** Wall-clock time since the job started. */
  readonly elapsedMillis: number;
  readonly phase: 'precopy' | 'postcopy';
}

/**
 * How a migration ended when it did not reject. `postcopy-paused`: the post-copy phase lost its
 * connection; the domain is paused on both sides (the guest lives on the destination, part of its
 * memory still on the source). Only `resumePostCopy` recovers it; it cannot be aborted.
 */
export type MigrationResult = { readonly outcome: 'completed' } | { readonly outcome: 'postcopy-paused'; readonly detail: string };

export interface HypervisorDriver {
  readonly uri: string;
  readonly capabilities: DriverCapabilities;
  /**
   * Creates the volumes, defines the domain and starts it. Idempotent: the name and UUID come
   * from the VM id, so a retry redefines the same domain and never creates a second one.
   */
  defineAndStart(spec: DomainSpec): Promise<void>;
  /** Creates the spec's volumes (sparse when lazy); existing ones are kept. Idempotent. */
  createVolumes(spec: DomainSpec): Promise<void>;
  /** Defines (or redefines) the domain without starting it. Idempotent. */
  define(spec: DomainSpec): Promise<void>;
  /** Graceful shutdown, forced off after `gracefulTimeoutMillis`. A stopped domain is fine. */
  stop(vmId: string, opts: StopOptions): Promise<'graceful' | 'forced' | 'already-stopped'>;
  start(vmId: string): Promise<void>;
  reboot(vmId: string): Promise<void>;
  /** Forced power-off. A stopped or missing domain is fine. */
  destroy(vmId: string): Promise<void>;
  /** Removes the definition and the volumes Berth created for it (unless `keepVolumes`). A missing domain is fine. */
  undefine(vmId: string, opts?: UndefineOptions): Promise<void>;
  /**
   * Copies the spec's volumes from this host to `opts.destinationUri` (same names, in the pools of
   * `opts.destinationVolumes` or else the same pools; created there when missing, overwritten when present). The domain must be stopped. The volumes here stay
   * as they are; the caller undefines the source once the destination has the domain. Idempotent: a
   * copy interrupted by a crash is simply run again. Refused (permanent) without `volumeCopy`.
   */
  copyVolumes(spec: DomainSpec, opts: CopyVolumesOptions): Promise<void>;
  /** The domain's state, or undefined when no such domain exists. */
  state(vmId: string): Promise<DomainState | undefined>;
  listDomains(): Promise<DomainInfo[]>;
  hostFacts(): Promise<HostFacts>;
  memoryStats(vmId: string): Promise<MemoryStats>;
  setBalloonTarget(vmId: string, bytes: number): Promise<void>;
  /**
   * Live-migrates the running domain to `opts.destinationUri`. Resolves when the domain runs on the
   * destination with its persistent definition and is gone from the source (`completed`), or when a
   * post-copy phase lost its connection (`postcopy-paused`). Rejects with a `MigrationError`
   * (`aborted` | `failed-transient` | `failed-permanent`) when a pre-copy migration fails: the
   * domain then still runs on the source and nothing of it stays on the destination.
   */
  migrate(vmId: string, opts: MigrateOptions): Promise<MigrationResult>;
  /** Aborts the domain's pre-copy migration job (the running `migrate` rejects `aborted`). Refused (permanent) in post-copy; a no-op without a job. */
  abortMigration(vmId: string): Promise<void>;
  /** Recovers a `postcopy-paused` migration (`migrate --postcopy-resume`); resolves when it completed. Called on the source's driver. */
  resumePostCopy(vmId: string, opts: MigrateOptions): Promise<void>;
  /** The domain's migration job as the source reports it now, or undefined when none runs. */
  migrationJob(vmId: string): Promise<MigrationProgress | undefined>;
  events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription>;
  close(): Promise<void>;
}
