import { telemetryInput } from '@berth/contracts';
import { NotFoundError, ValidationError } from '@berth/errors';
import type { DecisionRecorded } from './decisions.ts';
import { runInterval, type IntervalInput } from './interval.ts';
import type { Policies } from './policies.ts';
import type { PolicyEngine } from './ports.ts';

export interface ReplayResult {
  readonly identical: boolean;
  readonly recorded: DecisionRecorded['controls'];
  readonly replayed: DecisionRecorded['controls'];
  readonly differences: readonly string[];
}

/** A recorded decision (at the current schema version) and its event id. */
export interface RecordedDecision {
  readonly id: string;
  readonly data: DecisionRecorded;
}

/**
 * The decision `decisionId` and the decisions of its host its input is a delta against, oldest (the
 * keyframe) first; undefined when the log holds no such decision.
 */
export type DecisionChain = (decisionId: string) => Promise<readonly RecordedDecision[] | undefined>;

/**
 * The input the last decision of a chain read: each input is decoded against the one before it, and
 * each delta must name the decision before it as its base.
 */
export function inputOf(chain: readonly RecordedDecision[]): IntervalInput {
  let input: IntervalInput | undefined;
  let before: string | undefined;
  for (const { id, data } of chain) {
    const base = data.input.base;
    if (base !== null && base !== before)
      throw new Error(`decision ${id} is recorded as a delta against ${base}, but the log holds ${before ?? 'no decision'} before it`);
    input = telemetryInput.decodeDecisionInput(data.input, input);
    before = id;
  }
  if (input === undefined) throw new Error('no decision to replay');
  return input;
}

/** Re-evaluates a recorded decision with its recorded policy version and inputs (pure but for the reads). */
export async function replayDecision<S>(
  d: { readonly policies: Policies<S>; readonly engine: PolicyEngine<S>; readonly chain: DecisionChain },
  decisionId: string,
): Promise<ReplayResult> {
  if (decisionId.trim() === '') throw new ValidationError({ field: 'decision_id', reason: 'is required' });
  const chain = await d.chain(decisionId);
  const rec = chain?.at(-1)?.data;
  if (!chain || !rec) throw new NotFoundError('decision', decisionId);
  const set = await d.policies.version(rec.policy.scope, rec.policy.version);
  if (set.digest !== rec.policy.digest)
    throw new Error(`policy ${rec.policy.scope}@${rec.policy.version} digest differs from the one recorded`);
  return compareReplay(rec, runInterval(d.engine, d.policies.compiledOf(set), inputOf(chain)));
}

/** JSON with object keys sorted (Postgres' jsonb keeps its own key order, not the writer's). */
export function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    return `{${Object.keys(v)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonical((v as Record<string, unknown>)[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

export function compareReplay(rec: DecisionRecorded, r: ReturnType<typeof runInterval>): ReplayResult {
  const differences: string[] = [];
  const a = rec.controls.map(canonical);
  const b = r.controls.map(canonical);
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    if (a[i] !== b[i]) differences.push(`control ${i}: recorded ${a[i] ?? 'nothing'}, replayed ${b[i] ?? 'nothing'}`);
  }
  if (canonical(rec.clamps) !== canonical(r.clamps))
    differences.push(`clamps differ: recorded ${canonical(rec.clamps)}, replayed ${canonical(r.clamps)}`);
  return { identical: differences.length === 0, recorded: rec.controls, replayed: r.controls, differences };
}
