/**
 * The balancer's record per resource pool (stream `balancer-<pool>` in the service's log): the
 * policy set through the API, and each run that moved something (why, and which migrations).
 */
import type { evacuationEvents } from '@berth/contracts';
import type { BalancerTrigger } from './model.ts';
import { defaultPolicy, type BalancerPolicy } from './policy.ts';

export type RecordedMove = evacuationEvents.RecordedMove;

type Map = evacuationEvents.BalancerEventMap;
/** The balancer's events; payloads (and zod schemas) in @berth/contracts' catalog. */
export type BalancerEvent = { readonly [T in keyof Map]: { readonly type: T; readonly data: Map[T] } }[keyof Map];

export interface BalancerRecord {
  readonly version: number;
  readonly policy?: BalancerPolicy;
  /** When the balancer last moved each VM (ms): the cooldown. */
  readonly lastMovedAt: ReadonlyMap<string, number>;
  /** When the last run that moved something ran (ms). */
  readonly lastRunAt?: number;
}

export const initialBalancerRecord = (): BalancerRecord => ({ version: 0, lastMovedAt: new Map() });

export function evolveBalancer(r: BalancerRecord, e: BalancerEvent): BalancerRecord {
  const version = r.version + 1;
  switch (e.type) {
    case 'BalancerPolicySet':
      // Policies recorded before a field existed take its default.
      return { ...r, version, policy: { ...defaultPolicy(e.data.policy.pool), ...e.data.policy } };
    case 'BalancerRunRecorded': {
      const at = Date.parse(e.data.at);
      const lastMovedAt = new Map(r.lastMovedAt);
      for (const m of e.data.moves) lastMovedAt.set(m.vmId, at);
      return { ...r, version, lastMovedAt, lastRunAt: at };
    }
    default: {
      const never: never = e;
      return never;
    }
  }
}

export type BalancerCommand =
  | { readonly type: 'SetPolicy'; readonly policy: BalancerPolicy; readonly at: string }
  | {
      readonly type: 'RecordRun';
      readonly at: string;
      readonly trigger: BalancerTrigger;
      readonly summary: string;
      readonly moves: readonly RecordedMove[];
    };

export function decideBalancer(c: BalancerCommand, r: BalancerRecord): BalancerEvent[] {
  switch (c.type) {
    case 'SetPolicy':
      if (r.policy && JSON.stringify(r.policy) === JSON.stringify(c.policy)) return [];
      return [{ type: 'BalancerPolicySet', data: { policy: c.policy, at: c.at } }];
    case 'RecordRun':
      if (c.moves.length === 0) return [];
      return [{ type: 'BalancerRunRecorded', data: { at: c.at, trigger: c.trigger, summary: c.summary, moves: c.moves } }];
    default: {
      const never: never = c;
      return never;
    }
  }
}
