import type { HostState } from '@berth/fit';
import type { EvacuationEvent, WaitingVm } from './events.ts';
import type { EvacuationTrigger } from './model.ts';

export interface RunningMove {
  readonly migrationId: string;
  readonly destinationHostId: string;
  readonly priority: number;
  readonly startedAt: string;
}

export interface EvacuationRound {
  readonly evacuationId: string;
  readonly hostId: string;
  readonly trigger: EvacuationTrigger;
  readonly previousState: HostState;
  readonly startedAt: string;
  readonly vmCount: number;
  readonly totalMemoryBytes: number;
  readonly warnings: readonly { readonly vmId: string; readonly warning: string }[];
  readonly running: ReadonlyMap<string, RunningMove>;
  readonly moved: number;
  /** Destinations that failed per VM, excluded from its next plan. */
  readonly failedDestinations: ReadonlyMap<string, readonly string[]>;
  readonly lastFailure?: string;
  readonly waiting: readonly WaitingVm[];
  readonly nextRetryAt?: string;
  /** Moves in start order, for watching and for the priority order check. */
  readonly history: readonly {
    readonly vmId: string;
    readonly destinationHostId: string;
    readonly outcome: 'running' | 'completed' | 'failed' | 'aborted';
    readonly reason: string;
  }[];
}

export type Evacuation =
  | { readonly status: 'absent'; readonly version: number; readonly rounds: number }
  | ({ readonly status: 'running'; readonly version: number; readonly rounds: number } & EvacuationRound)
  | ({
      readonly status: 'cancelling';
      readonly version: number;
      readonly rounds: number;
      readonly abortRunning: boolean;
      readonly cancelReason: string;
      /** The state the operator set when taking the host out of maintenance: kept, nothing put back. */
      readonly hostStateSet?: HostState;
    } & EvacuationRound)
  | ({ readonly status: 'completed'; readonly version: number; readonly rounds: number; readonly endedAt: string } & EvacuationRound)
  | ({
      readonly status: 'cancelled';
      readonly version: number;
      readonly rounds: number;
      readonly endedAt: string;
      readonly restoredState: HostState;
    } & EvacuationRound);

export type ActiveEvacuation = Extract<Evacuation, { status: 'running' | 'cancelling' }>;

export const initialEvacuation = (): Evacuation => ({ status: 'absent', version: 0, rounds: 0 });

export const isActive = (e: Evacuation): e is ActiveEvacuation => e.status === 'running' || e.status === 'cancelling';

export function evolveEvacuation(e: Evacuation, ev: EvacuationEvent): Evacuation {
  const version = e.version + 1;
  if (ev.type === 'EvacuationStarted') {
    const d = ev.data;
    return {
      status: 'running',
      version,
      rounds: e.rounds + 1,
      evacuationId: d.evacuationId,
      hostId: d.hostId,
      trigger: d.trigger,
      previousState: d.previousState,
      startedAt: d.at,
      vmCount: d.vmCount,
      totalMemoryBytes: d.totalMemoryBytes,
      warnings: d.warnings,
      running: new Map(),
      moved: 0,
      failedDestinations: new Map(),
      waiting: [],
      history: [],
    };
  }
  if (!isActive(e)) return { ...e, version };
  switch (ev.type) {
    case 'EvacuationMoveStarted': {
      const running = new Map(e.running);
      running.set(ev.data.vmId, {
        migrationId: ev.data.migrationId,
        destinationHostId: ev.data.destinationHostId,
        priority: ev.data.priority,
        startedAt: ev.data.at,
      });
      return {
        ...e,
        version,
        running,
        history: [...e.history, { vmId: ev.data.vmId, destinationHostId: ev.data.destinationHostId, outcome: 'running', reason: '' }],
      };
    }
    case 'EvacuationMoveEnded': {
      const move = e.running.get(ev.data.vmId);
      const running = new Map(e.running);
      running.delete(ev.data.vmId);
      const failedDestinations = new Map(e.failedDestinations);
      if (ev.data.outcome !== 'completed' && move)
        failedDestinations.set(ev.data.vmId, [...(failedDestinations.get(ev.data.vmId) ?? []), move.destinationHostId]);
      const history = e.history.map((h) =>
        h.vmId === ev.data.vmId && h.outcome === 'running' ? { ...h, outcome: ev.data.outcome, reason: ev.data.reason } : h,
      );
      return {
        ...e,
        version,
        running,
        failedDestinations,
        history,
        moved: e.moved + (ev.data.outcome === 'completed' ? 1 : 0),
        ...(ev.data.outcome !== 'completed' && { lastFailure: `${ev.data.vmId}: ${ev.data.reason}` }),
      };
    }
    case 'EvacuationWaiting':
      return { ...e, version, waiting: ev.data.waiting, nextRetryAt: ev.data.nextRetryAt };
    case 'EvacuationCancelRequested':
      return {
        ...e,
        version,
        status: 'cancelling',
        abortRunning: ev.data.abortRunning,
        cancelReason: ev.data.reason,
        ...(ev.data.hostStateSet && { hostStateSet: ev.data.hostStateSet }),
      };
    case 'EvacuationCompleted':
      return { ...e, version, status: 'completed', endedAt: ev.data.at, waiting: [] };
    case 'EvacuationCancelled':
      return { ...e, version, status: 'cancelled', endedAt: ev.data.at, restoredState: ev.data.restoredState };
    default: {
      const never: never = ev;
      return never;
    }
  }
}

export const foldEvacuation = (events: readonly EvacuationEvent[]): Evacuation => events.reduce(evolveEvacuation, initialEvacuation());
