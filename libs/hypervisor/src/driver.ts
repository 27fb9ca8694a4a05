/**
 * The one driver interface every hypervisor backend implements (libvirt through virsh, the
 * simulator). The executor only ever talks to this interface; what a backend cannot do it
 * declares in `capabilities` instead of failing at run time.
 */
import type { DomainSpec } from './domain-spec.ts';

export type DomainState =
  | 'running'
  | 'blocked'
  | 'paused'
  | 'shutting-down'
  | 'shut-off'
  | 'crashed'
  | 'suspended'
  | 'no-state';

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
}

export interface StopOptions {
  /** How long the guest gets to shut down before it is forced off. */
  readonly gracefulTimeoutMillis: number;
}

export interface MigrateOptions {
  /** Connection URI of the destination host, as the source host reaches it. */
  readonly destinationUri: string;
  /** Data-plane URI (`tcp://host:port`) when it differs from the control connection. */
  readonly migrateUri?: string;
  readonly timeoutMillis?: number;
}

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
  /** Removes the definition and the volumes Berth created for it. A missing domain is fine. */
  undefine(vmId: string): Promise<void>;
  /** The domain's state, or undefined when no such domain exists. */
  state(vmId: string): Promise<DomainState | undefined>;
  listDomains(): Promise<DomainInfo[]>;
  hostFacts(): Promise<HostFacts>;
  memoryStats(vmId: string): Promise<MemoryStats>;
  setBalloonTarget(vmId: string, bytes: number): Promise<void>;
  migrate(vmId: string, opts: MigrateOptions): Promise<void>;
  events(onEvent: (e: LifecycleEvent) => void): Promise<EventSubscription>;
  close(): Promise<void>;
}
