import type { HostState } from '@berth/fit';
import type { BlockerKind, EvacuationTrigger, MoveKind } from './model.ts';

/** A VM the drain cannot move now, as the last pass saw it. */
export interface WaitingVm {
  readonly vmId: string;
  readonly kind: BlockerKind | 'cap';
  readonly reason: string;
  readonly remedies: readonly string[];
}

export type MoveOutcome = 'completed' | 'failed' | 'aborted';

/** Events of the evacuation stream `evacuation-<hostId>`: one round per drain of that host. */
export type EvacuationEvent =
  | {
      readonly type: 'EvacuationStarted';
      readonly data: {
        readonly evacuationId: string;
        readonly hostId: string;
        readonly trigger: EvacuationTrigger;
        /** The host's state before the drain; a cancel puts it back. */
        readonly previousState: HostState;
        readonly vmCount: number;
        readonly totalMemoryBytes: number;
        readonly warnings: readonly { readonly vmId: string; readonly warning: string }[];
        readonly at: string;
      };
    }
  | {
      readonly type: 'EvacuationMoveStarted';
      readonly data: {
        readonly vmId: string;
        readonly migrationId: string;
        readonly destinationHostId: string;
        readonly kind: MoveKind;
        readonly priority: number;
        readonly at: string;
      };
    }
  | {
      readonly type: 'EvacuationMoveEnded';
      readonly data: {
        readonly vmId: string;
        readonly migrationId: string;
        readonly outcome: MoveOutcome;
        readonly reason: string;
        readonly at: string;
      };
    }
  | { readonly type: 'EvacuationWaiting'; readonly data: { readonly waiting: readonly WaitingVm[]; readonly nextRetryAt: string } }
  | {
      readonly type: 'EvacuationCancelRequested';
      readonly data: { readonly abortRunning: boolean; readonly reason: string; readonly at: string };
    }
  | { readonly type: 'EvacuationCompleted'; readonly data: { readonly moved: number; readonly at: string } }
  | { readonly type: 'EvacuationCancelled'; readonly data: { readonly restoredState: HostState; readonly at: string } };

export type EvacuationEventType = EvacuationEvent['type'];
