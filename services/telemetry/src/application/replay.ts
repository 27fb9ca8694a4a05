import { NotFoundError, ValidationError } from '@berth/errors';
import type { DecisionRecorded } from './decisions.ts';
import { runInterval } from './interval.ts';
import type { Policies } from './policies.ts';
import type { PolicyEngine } from './ports.ts';

export interface ReplayResult {
  readonly identical: boolean;
  readonly recorded: DecisionRecorded['controls'];
  readonly replayed: DecisionRecorded['controls'];
  readonly differences: readonly string[];
}

/** Re-evaluates a recorded decision with its recorded policy version and inputs (pure but for the reads). */
export async function replayDecision<S>(
  d: {
    readonly policies: Policies<S>;
    readonly engine: PolicyEngine<S>;
    readonly byId: (id: string) => Promise<{ type: string; data: unknown } | undefined>;
  },
  decisionId: string,
): Promise<ReplayResult> {
  if (decisionId.trim() === '') throw new ValidationError({ field: 'decision_id', reason: 'is required' });
  const e = await d.byId(decisionId);
  if (!e || e.type !== 'DecisionRecorded') throw new NotFoundError('decision', decisionId);
  const rec = e.data as DecisionRecorded;
  const set = await d.policies.version(rec.policy.scope, rec.policy.version);
  if (set.digest !== rec.policy.digest)
    throw new Error(`policy ${rec.policy.scope}@${rec.policy.version} digest differs from the one recorded`);
  return compareReplay(rec, runInterval(d.engine, d.policies.compiledOf(set), rec.input));
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
