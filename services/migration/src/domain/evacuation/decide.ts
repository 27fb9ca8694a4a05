import { IllegalStateError, NotFoundError } from '@berth/errors';
import type { HostState } from '@berth/fit';
import type { EvacuationEvent, MoveOutcome, WaitingVm } from './events.ts';
import type { EvacuationPlan, MoveKind } from './model.ts';
import { isActive, type Evacuation } from './state.ts';

export type EvacuationCommand =
  | {
      readonly type: 'StartEvacuation';
      readonly hostId: string;
      readonly previousState: HostState;
      readonly plan: EvacuationPlan;
      readonly at: string;
    }
  | {
      readonly type: 'RecordMoveStarted';
      readonly vmId: string;
      readonly migrationId: string;
      readonly destinationHostId: string;
      readonly kind: MoveKind;
      readonly priority: number;
      readonly at: string;
    }
  | {
      readonly type: 'RecordMoveEnded';
      readonly vmId: string;
      readonly migrationId: string;
      readonly outcome: MoveOutcome;
      readonly reason: string;
      readonly at: string;
    }
  | { readonly type: 'RecordWaiting'; readonly waiting: readonly WaitingVm[]; readonly nextRetryAt: string; readonly at: string }
  | {
      readonly type: 'CancelEvacuation';
      readonly abortRunning: boolean;
      readonly reason: string;
      readonly at: string;
      /** The operator took the host out of maintenance, to this state: kept, not restored. */
      readonly hostStateSet?: HostState;
    }
  | { readonly type: 'CompleteEvacuation'; readonly at: string }
  | { readonly type: 'FinishCancel'; readonly at: string };

const sameWaiting = (a: readonly WaitingVm[], b: readonly WaitingVm[]): boolean =>
  a.length === b.length && a.every((w, i) => w.vmId === b[i]!.vmId && w.kind === b[i]!.kind && w.reason === b[i]!.reason);

/** The evacuation decider: pure; refusals throw the @berth/errors taxonomy, repeats decide nothing. */
export function decideEvacuation(c: EvacuationCommand, e: Evacuation): EvacuationEvent[] {
  switch (c.type) {
    case 'StartEvacuation': {
      // A drain already under way answers as it is (the operator asked twice, or inventory's event came back).
      if (isActive(e)) return [];
      const p = c.plan;
      return [
        {
          type: 'EvacuationStarted',
          data: {
            evacuationId: `${c.hostId}#${e.rounds + 1}`,
            hostId: c.hostId,
            trigger: p.trigger,
            previousState: c.previousState,
            vmCount: p.moves.length + p.blockers.length + p.inFlight.length + p.deferred.length,
            totalMemoryBytes: p.totalMemoryBytes,
            warnings: p.moves.flatMap((m) => m.warnings.map((warning) => ({ vmId: m.vmId, warning }))),
            at: c.at,
          },
        },
      ];
    }
    case 'RecordMoveStarted': {
      if (e.status !== 'running' || e.running.has(c.vmId)) return [];
      const { type: _t, ...data } = c;
      return [{ type: 'EvacuationMoveStarted', data }];
    }
    case 'RecordMoveEnded': {
      if (!isActive(e) || e.running.get(c.vmId)?.migrationId !== c.migrationId) return [];
      const { type: _t, ...data } = c;
      return [{ type: 'EvacuationMoveEnded', data }];
    }
    case 'RecordWaiting': {
      if (e.status !== 'running') return [];
      // Recorded when what waits changes, or when the announced retry time has passed (the drain is retrying).
      if (sameWaiting(e.waiting, c.waiting) && (c.waiting.length === 0 || (e.nextRetryAt !== undefined && c.at < e.nextRetryAt))) return [];
      return [{ type: 'EvacuationWaiting', data: { waiting: c.waiting, nextRetryAt: c.nextRetryAt } }];
    }
    case 'CancelEvacuation': {
      if (e.status === 'cancelling' || e.status === 'cancelled') return [];
      if (e.status === 'absent') throw new NotFoundError('evacuation', '(this host has none)');
      if (e.status === 'completed') throw new IllegalStateError(`evacuation ${e.evacuationId} already completed: the host is empty`);
      return [
        {
          type: 'EvacuationCancelRequested',
          data: { abortRunning: c.abortRunning, reason: c.reason, at: c.at, ...(c.hostStateSet && { hostStateSet: c.hostStateSet }) },
        },
      ];
    }
    case 'CompleteEvacuation': {
      if (e.status === 'completed') return [];
      if (e.status !== 'running') throw new IllegalStateError(`cannot complete an evacuation that is ${e.status}`);
      if (e.running.size > 0) throw new IllegalStateError(`evacuation ${e.evacuationId} still has ${e.running.size} migration(s) running`);
      return [{ type: 'EvacuationCompleted', data: { moved: e.moved, at: c.at } }];
    }
    case 'FinishCancel': {
      if (e.status === 'cancelled') return [];
      if (e.status !== 'cancelling') throw new IllegalStateError(`cannot finish cancelling an evacuation that is ${e.status}`);
      if (e.running.size > 0) throw new IllegalStateError(`evacuation ${e.evacuationId} still has ${e.running.size} migration(s) running`);
      return [{ type: 'EvacuationCancelled', data: { restoredState: e.hostStateSet ?? e.previousState, at: c.at } }];
    }
    default: {
      const never: never = c;
      return never;
    }
  }
}
