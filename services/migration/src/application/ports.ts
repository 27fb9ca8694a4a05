import type { CallDeadline } from '@berth/errors';
import type { ExecutorAnswer } from '../domain/migration/commands.ts';

/**
 * What the migration application needs from the other services, as small interfaces; the gRPC
 * adapters implement them (adapters/grpc/*-client.ts), tests may pass their own. A `call` is the
 * gRPC call the work is done for: its deadline caps the downstream call's, its cancel cancels it.
 */

/** A VM as inventory has it, translated at the edge. */
export interface VmInfo {
  readonly vmId: string;
  readonly name: string;
  /** inventory's status, lower case: running, stopped, ... */
  readonly status: string;
  readonly hostId: string;
  readonly hypervisorUri: string;
  readonly memoryBytes: number;
  readonly migrationMode: 'none' | 'manual' | 'manual-and-automatic';
  /** High-performance, pass-through CPU, CPU pinning or NUMA pinning (the seed's "HP/pinned"). */
  readonly highPerformanceOrPinned: boolean;
  readonly resourcePool: string;
  /** The migration the VM is moving in, '' when none. */
  readonly migrationId: string;
  /** The VM's spec as the scheduler takes it (opaque here). */
  readonly schedulingSpec: unknown;
  /** The VM stream's version this record is at (inventory's events carry their position in it). */
  readonly version?: number;
}

export interface RankedDestination {
  readonly hostId: string;
  readonly hostName: string;
  readonly generation: number;
  readonly score: number;
  readonly breakdownJson: string;
  /** The exact claim there (berth.inventory.v1.Claim as JSON). */
  readonly claim: unknown;
}

export interface MissingGroup {
  readonly reason: string;
  readonly subject: string;
  readonly hosts: number;
  readonly sampleHosts: readonly string[];
}

export interface ScoreAnswer {
  readonly fits: boolean;
  readonly summary: string;
  readonly hosts: readonly RankedDestination[];
  /** Per explained host: every filter it fails. */
  readonly rejections: ReadonlyMap<string, readonly string[]>;
  readonly missingSummary: string;
  readonly missing: readonly MissingGroup[];
}

export interface SchedulerPort {
  score(
    vm: VmInfo,
    opts: { excludedHosts: readonly string[]; limit: number; explainHosts?: readonly string[]; explainMissing?: boolean },
    call?: CallDeadline,
  ): Promise<ScoreAnswer>;
}

export type BeginOutcome =
  | { readonly kind: 'claimed'; readonly generation: number; readonly hypervisorUri: string }
  /** The host moved on since the score (generation): choose again. */
  | { readonly kind: 'stale'; readonly detail: string }
  /** No longer fits, host not schedulable, VM not migratable: this destination will not do. */
  | { readonly kind: 'refused'; readonly detail: string };

export interface InventoryPort {
  getVm(vmId: string, call?: CallDeadline): Promise<VmInfo>;
  /** Every VM inventory has on the host (one call: ListVms filtered by host). */
  vmsOn(hostId: string): Promise<VmInfo[]>;
  beginMigration(req: {
    commandId: string;
    vmId: string;
    migrationId: string;
    hostId: string;
    expectedGeneration: number;
    claim: unknown;
    automatic: boolean;
  }): Promise<BeginOutcome>;
  /** Releases the source claim and records the VM on the destination (idempotent). */
  completeMigration(req: { commandId: string; vmId: string; migrationId: string }): Promise<void>;
  /** Releases the destination claim; the VM stays on the source (idempotent, fine when none was taken). */
  abortMigration(req: { commandId: string; vmId: string; migrationId: string; reason: string }): Promise<void>;
}

/** The placement executor, asked by the watchdog what its log says of a VM (never an error: unreachable is an answer). */
export interface ExecutorPort {
  runtime(vmId: string): Promise<ExecutorAnswer>;
}

export interface Clock {
  now(): Date;
}
