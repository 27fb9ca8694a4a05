import type { DomainSpec } from '../domain-spec.ts';
import type { DomainState } from '../driver.ts';
import type { HypervisorErrorKind } from '../errors.ts';
import type { MigrationModel, SimMigrationSettings } from './migration.ts';

/** What a simulated fleet is made of: its settings, and each host's domains, volumes and injected failures. */

export type SimOperation = 'define' | 'start' | 'stop' | 'destroy' | 'undefine' | 'state' | 'list' | 'migrate' | 'copy-volumes';

export interface SimHostConfig {
  readonly hostId: string;
  readonly cpus: number;
  readonly memoryBytes: number;
  readonly numaNodes?: number;
}

export interface SimulatorOptions {
  /** Added latency per operation in milliseconds (default 0). */
  readonly latencyMillis?: Partial<Record<SimOperation, number>>;
  /** Probability (0..1) that any mutating operation fails transiently. */
  readonly transientFailureRate?: number;
  /** Deterministic pseudo-random source for failure injection (default Math.random). */
  readonly random?: () => number;
  /** How live migrations between the fleet's hosts behave (bandwidth, dirty rate, time scale). */
  readonly migration?: SimMigrationSettings;
  /**
   * Capacity of hosts that come into being when first addressed (a driver, a migration's
   * destination). Without it, an unknown host is unreachable (transient).
   */
  readonly autoHost?: Omit<SimHostConfig, 'hostId'>;
}

/** @internal */
export interface SimDomain {
  state: DomainState;
  spec: DomainSpec;
  /** The destination side of a migration in progress (libvirt shows it paused, then running in post-copy). */
  incoming?: boolean;
  /** The balloon's current size (the allocation, spec.memoryBytes, when never set). */
  balloonBytes?: number;
}

/** One migration in progress, keyed by source host and VM. @internal */
export interface SimJob {
  readonly model: MigrationModel;
  readonly startedAt: number;
  readonly destinationHostId: string;
  /** The domain as it is to be on the destination (its claim's pinning and pools), when the caller gave it. */
  readonly destinationSpec?: DomainSpec;
  /** Pre-copy abort; undefined once past the switch-over. */
  abort?: (failure: 'aborted' | 'failed-transient', why: string) => void;
  /** Set while a post-copy is paused by a lost connection. */
  paused?: boolean;
}

/** @internal */
export interface SimHost {
  readonly config: SimHostConfig;
  readonly domains: Map<string, SimDomain>;
  readonly failures: { op: SimOperation; kind: HypervisorErrorKind; remaining: number }[];
  /** Volumes on this host's (local) storage: `<pool>/<name>` -> size in bytes. */
  readonly volumes: Map<string, number>;
}

/** An operation's configured latency. @internal */
export const sleep = (ms: number): Promise<void> => (ms > 0 ? new Promise((r) => setTimeout(r, ms)) : Promise.resolve());

/** The host id of a `sim://<host>` URI, or undefined. @internal */
export const simHostOf = (uri: string): string | undefined => /^sim:\/\/([^/?#]+)/.exec(uri)?.[1];
