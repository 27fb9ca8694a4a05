import type { VmSpec } from '@berth/fit';
import { claimCommandId, failureCommandId } from './command-id.ts';
import type { DecisionLog } from './decision-log.ts';
import type { LogPosition, ViewPosition } from './view-position.ts';
import type {
  Candidate,
  ClaimOutcome,
  Decision,
  InventoryPort,
  PlacementEngine,
  Reservations,
  SnapshotSource,
  SnapshotView,
} from './ports.ts';

/** One `VmRequested`, translated at the edge. */
export interface PlacementRequest {
  /** Unique per request (the VmRequested event id): a re-request of the same VM gets new command ids. */
  readonly requestId: string;
  readonly vm: VmSpec;
  /** Hosts inventory asks us to avoid (e.g. where provisioning already failed). */
  readonly excludedHosts: readonly string[];
  /** The request's position in inventory's log (absent from older producers): see view-position.ts. */
  readonly logPosition?: LogPosition;
}

export interface PlaceVmDeps {
  readonly engine: PlacementEngine;
  readonly view: SnapshotView;
  /** Claims on the wire counted against their hosts, so placements in flight together spread (absent: not counted). */
  readonly reservations?: Reservations;
  readonly source: SnapshotSource;
  readonly inventory: InventoryPort;
  readonly decisions: DecisionLog;
  /** Claims sent to inventory per delivery before giving up (OpenStack Placement style bound). */
  readonly maxAttempts: number;
  /** Runners-up returned with each decision and tried in order after a rejection. */
  readonly alternates: number;
  /**
   * Pick the first host at random among the best N (nova's host_subset_size): with several
   * replicas deciding from the same view, 1 sends them all to the same host and all but one lose.
   */
  readonly hostSubsetSize: number;
  readonly random: () => number;
  readonly now: () => Date;
  /** How current the view is; without it a failure is reported on whatever the view holds. */
  readonly viewPosition?: ViewPosition;
  /** How long a placement that found no host waits for the view to reach the request (default 10 s). */
  readonly viewWaitMillis?: number;
}

export type PlaceVmOutcome =
  | { readonly kind: 'placed'; readonly hostId: string; readonly attempts: number }
  | { readonly kind: 'failed'; readonly summary: string; readonly attempts: number }
  /** Every attempt lost a race with another placement; worth another delivery with fresh data. */
  | { readonly kind: 'contended'; readonly attempts: number }
  /** Nothing fitted, but the view stayed behind the request: worth another delivery, never a failure. */
  | { readonly kind: 'view-behind'; readonly attempts: number }
  | { readonly kind: 'not-pending'; readonly detail: string };

/**
 * Decide, claim, and on rejection refresh the host and take the next alternate still based on
 * current data, or decide afresh — at most `maxAttempts` claims. When the VM fits nowhere,
 * inventory records the explanation. When every attempt lost a race and `finalDelivery` is
 * false, the caller should redeliver later instead of failing the VM.
 */
export async function placeVm(deps: PlaceVmDeps, req: PlacementRequest, finalDelivery: boolean): Promise<PlaceVmOutcome> {
  const { engine, view, inventory } = deps;
  // Hosts refused during this delivery, at the generation the view had: until the view moves past
  // it (the bucket may lag behind inventory), deciding again would pick the same stale host.
  const refused = new Map<string, number>();
  const stillRefused = (hostId: string): boolean => {
    const at = refused.get(hostId);
    return at !== undefined && (view.get(hostId)?.generation ?? Infinity) <= at;
  };
  let attempts = 0;
  let lastConflict = '';
  let waitedForView = false;
  while (attempts < deps.maxAttempts) {
    const excludedHosts = [...req.excludedHosts, ...[...refused.keys()].filter(stillRefused)];
    const decision = engine.decide(req.vm, { excludedHosts, alternates: deps.alternates });
    if (decision.kind === 'failed') {
      if (refused.size > 0) break; // fits nowhere only because of hosts that lost races: contention, not capacity
      // "Fits nowhere" counts only on a view that has seen everything committed before the request
      // (a host just registered or enabled, a claim just released): wait for it, then decide again.
      const behind = req.logPosition !== undefined && deps.viewPosition !== undefined && !deps.viewPosition.reached(req.logPosition);
      if (behind && !waitedForView) {
        waitedForView = true;
        if (await deps.viewPosition.waitFor(req.logPosition, deps.viewWaitMillis ?? 10_000)) continue;
      }
      if (behind && !finalDelivery) return { kind: 'view-behind', attempts };
      const summary = behind
        ? `${decision.summary} (decided on a view still behind the request: inventory's snapshots did not catch up)`
        : decision.summary;
      return reportFailure(deps, req, summary, failedExplanation({ ...decision, summary }), attempts);
    }
    const attemptsBefore = attempts;
    const queue = ordered(decision, deps);
    while (queue.length > 0) {
      // After a refusal, replicas that lost the same race would all take the same next alternate
      // and race again: pick at random among the next few instead.
      const next = attempts > attemptsBefore ? Math.floor(deps.random() * Math.min(RETRY_SPREAD, queue.length)) : 0;
      const candidate = queue.splice(next, 1)[0]!;
      if (attempts >= deps.maxAttempts) break;
      // A candidate computed from a generation the view has since replaced would only be refused.
      if (view.get(candidate.hostId)?.generation !== candidate.generation) break;
      if (stillRefused(candidate.hostId)) continue;
      attempts += 1;
      const explanation = placedExplanation(decision, candidate, req.vm.name);
      // Counted against the host from now on: the placements deciding while this claim is on the wire see it.
      deps.reservations?.reserve(candidate.claim);
      let outcome: ClaimOutcome | undefined;
      try {
        outcome = await inventory.claim({
          commandId: claimCommandId(req.requestId, attempts),
          vmId: req.vm.vmId,
          hostId: candidate.hostId,
          expectedGeneration: candidate.generation,
          claim: candidate.claim,
          explanation,
          alternates: decision.alternates
            .filter((a) => a.hostId !== candidate.hostId)
            .map((a) => ({ hostId: a.hostId, generation: a.generation })),
        });
        if (outcome.kind === 'claimed') rememberClaim(view, candidate, outcome.generation);
      } finally {
        deps.reservations?.settle(candidate.claim, outcome?.kind === 'claimed' ? outcome.generation : undefined);
      }
      switch (outcome.kind) {
        case 'claimed': {
          deps.decisions.record({
            vmId: req.vm.vmId,
            outcome: 'placed',
            hostId: candidate.hostId,
            explanation,
            attempts,
            decidedAt: deps.now().toISOString(),
          });
          return { kind: 'placed', hostId: candidate.hostId, attempts };
        }
        case 'vm-not-pending':
          return { kind: 'not-pending', detail: outcome.detail };
        case 'generation-moved':
        case 'no-longer-fits': {
          lastConflict = `${candidate.hostName}: ${outcome.detail}`;
          refused.set(candidate.hostId, candidate.generation);
          const fresh = await deps.source.get(candidate.hostId);
          if (fresh === undefined) view.remove(candidate.hostId);
          else view.upsert(fresh);
          break;
        }
        default: {
          const never: never = outcome;
          throw new Error(`unhandled claim outcome ${JSON.stringify(never)}`);
        }
      }
    }
    // A round that sent no claim would repeat itself forever.
    if (attempts === attemptsBefore) break;
  }
  if (!finalDelivery) return { kind: 'contended', attempts };
  const summary = `gave up on ${req.vm.name} after ${attempts} claims were refused by inventory (last: ${lastConflict})`;
  return reportFailure(deps, req, summary, JSON.stringify({ summary, reason: 'contention' }), attempts);
}

/** Alternates a retry picks from at random (see placeVm). */
const RETRY_SPREAD = 3;

function ordered(decision: Extract<Decision, { kind: 'placed' }>, deps: PlaceVmDeps): Candidate[] {
  const all = [decision.chosen, ...decision.alternates];
  const n = Math.min(deps.hostSubsetSize, all.length);
  if (n <= 1) return all;
  const first = Math.min(n - 1, Math.floor(deps.random() * n));
  return [all[first]!, ...all.filter((_, i) => i !== first)];
}

/**
 * The next decision of this replica sees the claim without waiting for the bucket's update: the
 * view's snapshot plus the claim, one generation later. That is the host as inventory has it when
 * the view still holds the scored generation, or when inventory took the claim right on top of the
 * generation the view holds now (placements of this replica that went first on the same host have
 * been remembered already). Otherwise (claims this view does not know went first) the bucket's
 * later update brings them in as well as this one.
 */
function rememberClaim(view: SnapshotView, candidate: Candidate, generation: number): void {
  const current = view.get(candidate.hostId);
  if (current === undefined || generation <= current.generation) return;
  if (current.generation !== candidate.generation && current.generation !== generation - 1) return;
  if (current.claims.some((c) => c.vmId === candidate.claim.vmId)) return;
  view.applyClaim(candidate.claim);
}

async function reportFailure(
  deps: PlaceVmDeps,
  req: PlacementRequest,
  summary: string,
  explanation: string,
  attempts: number,
): Promise<PlaceVmOutcome> {
  const viewPosition = deps.viewPosition?.current();
  const answer = await deps.inventory.reportPlacementFailed({
    commandId: failureCommandId(req.requestId),
    vmId: req.vm.vmId,
    reason: summary,
    explanation,
    ...(viewPosition !== undefined ? { viewPosition } : {}),
  });
  if (answer === 'vm-not-pending') return { kind: 'not-pending', detail: 'placement failure not recorded: VM no longer pending' };
  deps.decisions.record({
    vmId: req.vm.vmId,
    outcome: 'failed',
    explanation,
    attempts,
    decidedAt: deps.now().toISOString(),
  });
  return { kind: 'failed', summary, attempts };
}

const candidateJson = (c: Candidate) => ({ hostId: c.hostId, hostName: c.hostName, score: c.score, breakdown: c.breakdown });

/**
 * Runners-up explained curve by curve in a placement's explanation. The explanation travels in the
 * VmPlaced event (log, NATS, every consumer), so it carries the best few, not every alternate.
 */
export const RUNNERS_UP_EXPLAINED = 3;

const score = (c: Candidate): number => +c.score.toFixed(4);

/**
 * The explanation of the claim sent to `chosen`. The engine's summary names its best host; when the
 * claim goes elsewhere (a random pick within the host subset, or the next alternate after a
 * refusal) the summary says so and names both.
 */
function placedExplanation(decision: Extract<Decision, { kind: 'placed' }>, chosen: Candidate, vmName: string): string {
  const runnersUp: ReturnType<typeof candidateJson>[] = [];
  for (let i = -1; i < decision.alternates.length && runnersUp.length < RUNNERS_UP_EXPLAINED; i++) {
    const c = i < 0 ? decision.chosen : decision.alternates[i]!;
    if (c.hostId !== chosen.hostId) runnersUp.push(candidateJson(c));
  }
  const best = decision.chosen;
  const summary =
    chosen.hostId === best.hostId
      ? decision.summary
      : `${vmName} goes to ${chosen.hostName} (score ${score(chosen)}; best-scored ${best.hostName}, ${score(best)}; ${decision.alternates.length} runners-up)`;
  return JSON.stringify({ summary, chosen: candidateJson(chosen), runnersUp });
}

function failedExplanation(decision: Extract<Decision, { kind: 'failed' }>): string {
  return JSON.stringify({ summary: decision.summary, filters: decision.detail });
}
