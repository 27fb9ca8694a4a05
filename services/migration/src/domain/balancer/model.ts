import type { evacuationEvents } from '@berth/contracts';
import type { Claim, HostSnapshot, VmSpec } from '@berth/fit';
import type { BalancerMode, BalancerPolicy } from './policy.ts';

/** CPU and memory load of a host, each 0..1 (of allocatable capacity for allocation; of physical for measured usage). */
export interface Load {
  readonly cpu: number;
  readonly memory: number;
}

export interface LoadSample extends Load {
  /** Milliseconds since the epoch. */
  readonly at: number;
}

/**
 * Where load comes from. `allocation`: the claims in the host snapshots (exact, what Berth has
 * given out). `measured`: telemetry's usage samples; a move is predicted by adding (removing) the
 * VM's allocation share to (from) the measured load. The history feeds the threshold window either way.
 */
export type LoadSource = 'allocation' | 'measured';

export interface BalancedVm {
  readonly spec: VmSpec;
  readonly hostId: string;
  /** Running VMs only are moved (live). */
  readonly running: boolean;
  readonly migrating: boolean;
  /** When the balancer last moved it (ms); within the cooldown it stays put. */
  readonly lastMovedAt?: number;
}

export interface BalancerInput {
  readonly policy: BalancerPolicy;
  readonly now: number;
  /** The fleet's snapshots; the pool's are picked by `capacity.resourcePool`. */
  readonly hosts: readonly HostSnapshot[];
  readonly vms: readonly BalancedVm[];
  readonly source: LoadSource;
  /** Samples per host (oldest first); for `measured` the last one is the current load. */
  readonly history: (hostId: string) => readonly LoadSample[];
  /** Moves of this pool already started in the current interval. */
  readonly movesThisInterval: number;
  /** Why this run happens: the pool's interval (default), a host under pressure, or an operator's run-now. */
  readonly trigger?: BalancerTrigger;
  /** Hosts under pressure (see `pressureOf`): with trigger `pressure` the sources, whatever the mode. */
  readonly pressured?: ReadonlySet<string>;
}

export type BalancerTrigger = evacuationEvents.BalancerTrigger;

export type HostRole = 'over' | 'under' | 'normal' | 'excluded';

export interface HostReading {
  readonly hostId: string;
  readonly name: string;
  readonly load: Load;
  /** max(cpu, memory) */
  readonly bottleneck: number;
  readonly samplesInWindow: number;
  /** Smallest and largest bottleneck of the window's samples (absent: none in the window). */
  readonly windowMin?: number;
  readonly windowMax?: number;
  /** Load from telemetry's measured usage (else allocation). */
  readonly measured: boolean;
  readonly role: HostRole;
  readonly note: string;
  /** Predicted bottleneck after the run's moves (the run's result; equal to `bottleneck` when no move touches the host). */
  readonly predicted?: number;
}

export type Verdict = 'moved' | 'rejected' | 'skipped';

export interface CandidateRecord {
  readonly vmId: string;
  readonly vmName: string;
  readonly from: string;
  readonly to?: string;
  /** Bottleneck loads of source and destination now and predicted after the move. */
  readonly before?: { readonly from: number; readonly to: number };
  readonly after?: { readonly from: number; readonly to: number };
  readonly improvement?: number;
  readonly verdict: Verdict;
  readonly reason: string;
}

export interface ProposedMove {
  readonly vmId: string;
  readonly vmName: string;
  readonly from: string;
  readonly to: string;
  readonly claim: Claim;
  readonly destinationGeneration: number;
  readonly before: { readonly from: number; readonly to: number };
  readonly after: { readonly from: number; readonly to: number };
  readonly improvement: number;
  readonly reason: string;
}

/** Everything a run saw and decided: what `berth balance explain` shows. */
export interface BalancerRun {
  readonly pool: string;
  readonly mode: BalancerMode;
  readonly at: number;
  readonly source: LoadSource;
  readonly trigger: BalancerTrigger;
  readonly policy: BalancerPolicy;
  readonly hosts: readonly HostReading[];
  readonly candidates: readonly CandidateRecord[];
  readonly moves: readonly ProposedMove[];
  readonly summary: string;
}
