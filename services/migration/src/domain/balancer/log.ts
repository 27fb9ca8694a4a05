/**
 * The balancer's record per resource pool (stream `balancer-<pool>` in the service's log): the
 * policy set through the API, and every run (BalancerRunRecorded: inputs, thresholds, candidates,
 * predicted loads, moves). A run that moves nothing and records exactly what the last recorded run
 * did is not recorded again: it is counted (BalancerRunRepeated, cumulative, written when the outcome
 * changes and at most once an hour meanwhile; docs/evacuation-and-balancer.md, "The balancer's record").
 */
import type { evacuationEvents } from '@berth/contracts';
import { defaultPolicy, type BalancerPolicy } from './policy.ts';

export type RecordedMove = evacuationEvents.RecordedMove;
export type RecordedRun = evacuationEvents.BalancerRunRecorded;

type Map = evacuationEvents.BalancerEventMap;
/** The balancer's events; payloads (and zod schemas) in @berth/contracts' catalog. */
export type BalancerEvent = { readonly [T in keyof Map]: { readonly type: T; readonly data: Map[T] } }[keyof Map];

/** The last run recorded: where (its stream position, the run id's number), what (its digest), and its repeats recorded so far. */
export interface LastRun {
  readonly position: number;
  readonly digest: string;
  readonly repeatsRecorded: number;
}

export interface BalancerRecord {
  readonly version: number;
  readonly policy?: BalancerPolicy;
  /** When the policy was last set (ISO 8601). */
  readonly policySetAt?: string;
  /** When the balancer last moved each VM (ms): the cooldown. */
  readonly lastMovedAt: ReadonlyMap<string, number>;
  /** When the last run that moved something ran (ms). */
  readonly lastRunAt?: number;
  readonly lastRun?: LastRun;
}

export const initialBalancerRecord = (): BalancerRecord => ({ version: 0, lastMovedAt: new Map() });

/** What makes two runs the same: everything recorded but the time. */
export function runDigest(run: RecordedRun): string {
  const { at: _at, ...rest } = run;
  return JSON.stringify(rest);
}

/** A run that moves nothing and records exactly what the last recorded run did: counted, not recorded again. */
export function repeatsLastRun(record: BalancerRecord, run: RecordedRun): boolean {
  return run.moves.length === 0 && record.lastRun !== undefined && record.lastRun.digest === runDigest(run);
}

export function evolveBalancer(r: BalancerRecord, e: BalancerEvent): BalancerRecord {
  // Stream positions start at 1 and have no gaps: the version after an event is its position.
  const version = r.version + 1;
  switch (e.type) {
    case 'BalancerPolicySet':
      // Policies recorded before a field existed take its default.
      return { ...r, version, policy: { ...defaultPolicy(e.data.policy.pool), ...e.data.policy }, policySetAt: e.data.at };
    case 'BalancerRunRecorded': {
      const at = Date.parse(e.data.at);
      const lastRun = { position: version, digest: runDigest(e.data), repeatsRecorded: 0 };
      if (e.data.moves.length === 0) return { ...r, version, lastRun };
      const lastMovedAt = new Map(r.lastMovedAt);
      for (const m of e.data.moves) lastMovedAt.set(m.vmId, at);
      return { ...r, version, lastMovedAt, lastRunAt: at, lastRun };
    }
    case 'BalancerRunRepeated':
      return r.lastRun?.position === e.data.runPosition
        ? { ...r, version, lastRun: { ...r.lastRun, repeatsRecorded: e.data.count } }
        : { ...r, version };
    default: {
      const never: never = e;
      return never;
    }
  }
}

/** Repeats of the last recorded run counted since its last BalancerRunRepeated. */
export interface PendingRepeats {
  readonly count: number;
  readonly lastAt: string;
}

export type BalancerCommand =
  | { readonly type: 'SetPolicy'; readonly policy: BalancerPolicy; readonly at: string }
  /** A run to record, after the repeats of the previous one still uncounted in the log. */
  | { readonly type: 'RecordRun'; readonly run: RecordedRun; readonly pending?: PendingRepeats }
  | { readonly type: 'RecordRepeats'; readonly pending: PendingRepeats };

export function decideBalancer(c: BalancerCommand, r: BalancerRecord): BalancerEvent[] {
  const repeated = (p: PendingRepeats | undefined): BalancerEvent[] =>
    p && p.count > 0 && r.lastRun
      ? [
          {
            type: 'BalancerRunRepeated',
            data: { runPosition: r.lastRun.position, count: r.lastRun.repeatsRecorded + p.count, lastAt: p.lastAt },
          },
        ]
      : [];
  switch (c.type) {
    case 'SetPolicy':
      if (r.policy && JSON.stringify(r.policy) === JSON.stringify(c.policy)) return [];
      return [{ type: 'BalancerPolicySet', data: { policy: c.policy, at: c.at } }];
    case 'RecordRun':
      return [...repeated(c.pending), { type: 'BalancerRunRecorded', data: c.run }];
    case 'RecordRepeats':
      return repeated(c.pending);
    default: {
      const never: never = c;
      return never;
    }
  }
}
