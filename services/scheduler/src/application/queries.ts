/**
 * The read-only questions of SchedulerService: none of them claims, reports or changes the view.
 */
import { NotFoundError } from '@berth/errors';
import type { VmSpec } from '@berth/fit';
import type { DecisionLog, DecisionRecord } from './decision-log.ts';
import type { Decision, InventoryPort, PlacementEngine, SnapshotSource, SnapshotView, WhatIfResult } from './ports.ts';

export interface QueryDeps {
  readonly engine: PlacementEngine;
  readonly view: SnapshotView;
  readonly decisions: DecisionLog;
  readonly inventory: Pick<InventoryPort, 'lastDecision' | 'hasHost'>;
  /** The host bucket read directly: what a question about one host asks before saying "no such host". */
  readonly source?: SnapshotSource;
  /** How long a question waits for a host inventory has and the bucket not yet (default 10 s). */
  readonly viewWaitMillis?: number;
  /** Between two reads of the bucket while waiting (default 100 ms). */
  readonly pollMillis?: number;
}

/**
 * Hosts asked about by name that the view does not hold yet, read from the bucket itself and put in
 * the view. The view follows the bucket through a watch that can lag behind it (a loaded replica, a
 * watch catching up), and the bucket follows inventory's log through its projection, which can lag
 * too: a host registered before the question may be in inventory and not yet in the bucket. "No such
 * host" must not be an artefact of either lag, so a host the bucket lacks is asked of inventory, and
 * while inventory has it the bucket is read again until it holds it (at most `viewWaitMillis`, and
 * never past the end of `call`). A host inventory lacks stays unknown at once.
 */
export async function lookUpUnknown(deps: QueryDeps, hostIds: readonly string[], call?: { readonly signal: AbortSignal }): Promise<void> {
  const source = deps.source;
  if (source === undefined) return;
  const unknown = [...new Set(hostIds)].filter((id) => deps.view.get(id) === undefined);
  const found = await Promise.all(
    unknown.map(async (id) => {
      const now = await source.get(id);
      // Inventory unreachable: the view's answer stands (the host is unknown to it).
      if (now !== undefined || !(await deps.inventory.hasHost?.(id).catch(() => false))) return now;
      const until = Date.now() + (deps.viewWaitMillis ?? 10_000);
      while (Date.now() < until && !call?.signal.aborted) {
        await new Promise((resolve) => setTimeout(resolve, deps.pollMillis ?? 100));
        const later = deps.view.get(id) ?? (await source.get(id));
        if (later !== undefined) return later;
      }
      return undefined;
    }),
  );
  for (const s of found) if (s !== undefined) deps.view.upsert(s);
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
