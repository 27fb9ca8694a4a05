/**
 * The read-only questions of SchedulerService: none of them claims, reports or changes the view.
 */
import { NotFoundError } from '@berth/errors';
import type { VmSpec } from '@berth/fit';
import type { DecisionLog, DecisionRecord } from './decision-log.ts';
import type { Decision, InventoryPort, PlacementEngine, SnapshotView, WhatIfResult } from './ports.ts';

export interface QueryDeps {
  readonly engine: PlacementEngine;
  readonly view: SnapshotView;
  readonly decisions: DecisionLog;
  readonly inventory: Pick<InventoryPort, 'lastDecision'>;
}

export interface ScoreAnswer {
  readonly decision: Decision;
  readonly hostsConsidered: number;
}

/** The best `limit` hosts for a VM of this spec (chosen first, then runners-up), or why none. */
export function score(deps: QueryDeps, vm: VmSpec, excludedHosts: readonly string[], limit: number): ScoreAnswer {
  return { decision: deps.engine.decide(vm, { excludedHosts, alternates: Math.max(0, limit - 1) }), hostsConsidered: deps.view.size };
}

export type ExplainAnswer = Pick<DecisionRecord, 'vmId' | 'outcome' | 'hostId' | 'explanation'> & {
  readonly source: 'scheduler' | 'inventory';
};

/**
 * This replica's recent decision when it made one; otherwise the explanation inventory recorded
 * with the VM (another replica decided, or this one restarted).
 */
export async function explain(deps: QueryDeps, vmId: string): Promise<ExplainAnswer> {
  const local = deps.decisions.get(vmId);
  if (local !== undefined)
    return { vmId, outcome: local.outcome, hostId: local.hostId, explanation: local.explanation, source: 'scheduler' };
  const recorded = await deps.inventory.lastDecision?.(vmId);
  if (recorded === undefined) throw new NotFoundError('placement decision of vm', vmId);
  return { ...recorded, source: 'inventory' };
}

export function whatIf(deps: QueryDeps, vm: VmSpec, hostIds: readonly string[]): WhatIfResult {
  return deps.engine.whatIf(vm, hostIds);
}
