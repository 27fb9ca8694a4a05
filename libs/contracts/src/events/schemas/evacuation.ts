/**
 * Schemas of the migration service's evacuation (`berth.migration.evacuation.<Type>`) and balancer
 * (`berth.migration.balancer.<Type>`) events, at version 1 but BalancerRunRecorded; in the catalog under the
 * `migration` service beside the migration aggregate's own. BalancerRunRecorded is at 2 (the run's whole
 * record; version 1's moves-only record upcasts, `balancerRunV1toV2`).
 */
import { z } from 'zod';
import type * as E from '../evacuation.ts';
import type { ServiceEvents } from './catalog.ts';
import { bytes, count, isoTime, nonEmpty, objectOf } from './define.ts';
import { hostStateSchema } from './model.ts';

const v1 = <T>(schema: z.ZodType<T>) => ({ version: 1, schema }) as const;

const fraction = z.number().min(0).max(1);
const seconds = z.number().int().min(0);
const moveKind = z.enum(['live', 'cold']);

const waiting = objectOf<E.WaitingVm>()({
  vmId: z.string(),
  kind: z.enum(['mode-none', 'manual-only', 'no-destination', 'busy', 'cap']),
  reason: z.string(),
  remedies: z.array(z.string()),
});

export const evacuationEventDefinitions: ServiceEvents<E.EvacuationEventMap> = {
  EvacuationStarted: v1(
    objectOf<E.EvacuationStarted>()({
      evacuationId: nonEmpty,
      hostId: nonEmpty,
      trigger: z.enum(['operator', 'automatic']),
      previousState: hostStateSchema,
      vmCount: count,
      totalMemoryBytes: bytes,
      warnings: z.array(objectOf<E.EvacuationStarted['warnings'][number]>()({ vmId: nonEmpty, warning: z.string() })),
      at: isoTime,
    }),
  ),
  EvacuationMoveStarted: v1(
    objectOf<E.EvacuationMoveStarted>()({
      vmId: nonEmpty,
      migrationId: nonEmpty,
      destinationHostId: nonEmpty,
      kind: moveKind,
      priority: z.number().int(),
      at: isoTime,
    }),
  ),
  EvacuationMoveEnded: v1(
    objectOf<E.EvacuationMoveEnded>()({
      vmId: nonEmpty,
      migrationId: nonEmpty,
      outcome: z.enum(['completed', 'failed', 'aborted']),
      reason: z.string(),
      at: isoTime,
    }),
  ),
  EvacuationWaiting: v1(objectOf<E.EvacuationWaiting>()({ waiting: z.array(waiting), nextRetryAt: isoTime })),
  EvacuationCancelRequested: v1(
    objectOf<E.EvacuationCancelRequested>()({
      abortRunning: z.boolean(),
      reason: z.string(),
      at: isoTime,
      hostStateSet: hostStateSchema.optional(),
    }),
  ),
  EvacuationCompleted: v1(objectOf<E.EvacuationCompleted>()({ moved: count, at: isoTime })),
  EvacuationCancelled: v1(objectOf<E.EvacuationCancelled>()({ restoredState: hostStateSchema, at: isoTime })),
};

const policyFields = {
  pool: nonEmpty,
  mode: z.enum(['off', 'pack', 'spread']),
  highThreshold: fraction,
  lowThreshold: fraction,
  windowSeconds: seconds,
  maxMovesPerInterval: z.number().int().min(1),
  intervalSeconds: z.number().int().min(1),
  minImprovement: fraction,
  cooldownSeconds: seconds,
};
const policy = objectOf<E.RecordedBalancerPolicy>()({
  ...policyFields,
  pressureThreshold: fraction.optional(),
  pressureClearThreshold: fraction.optional(),
});
const recordedMove = objectOf<E.RecordedMove>()({
  vmId: nonEmpty,
  from: nonEmpty,
  to: nonEmpty,
  migrationId: nonEmpty,
  improvement: z.number(),
  reason: z.string(),
});

const loads = objectOf<E.PairLoads>()({ from: z.number(), to: z.number() });
const hostInput = objectOf<E.BalancerHostInput>()({
  hostId: nonEmpty,
  name: z.string(),
  cpu: z.number(),
  memory: z.number(),
  bottleneck: z.number(),
  samplesInWindow: count,
  windowMin: z.number().optional(),
  windowMax: z.number().optional(),
  measured: z.boolean(),
  role: z.enum(['over', 'under', 'normal', 'excluded']),
  note: z.string(),
  predicted: z.number(),
});
const candidate = objectOf<E.BalancerCandidate>()({
  vmId: nonEmpty,
  vmName: z.string(),
  from: nonEmpty,
  to: nonEmpty.optional(),
  before: loads.optional(),
  after: loads.optional(),
  improvement: z.number().optional(),
  verdict: z.enum(['moved', 'rejected', 'skipped']),
  reason: z.string(),
  migrationId: nonEmpty.optional(),
});
const currentPolicy = objectOf<E.BalancerPolicy>()({
  ...policyFields,
  pressureThreshold: fraction,
  pressureClearThreshold: fraction,
});

/**
 * BalancerRunRecorded 1 -> 2: schema 1 recorded runs that moved something, with no inputs. The
 * trigger (optional then) reads as `interval` (runs were periodic before triggers existed), no
 * hosts, no policy, and each move as a moved candidate (its VM id for a name).
 */
export function balancerRunV1toV2(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const d = data as { trigger?: unknown; moves?: unknown };
  const moves = Array.isArray(d.moves) ? (d.moves as Partial<E.RecordedMove>[]) : [];
  return {
    ...data,
    trigger: d.trigger ?? 'interval',
    hosts: [],
    candidates: moves.map((m) => ({
      vmId: m.vmId,
      vmName: m.vmId,
      from: m.from,
      to: m.to,
      improvement: m.improvement,
      verdict: 'moved',
      reason: m.reason,
      migrationId: m.migrationId,
    })),
  };
}

export const balancerEventDefinitions: ServiceEvents<E.BalancerEventMap> = {
  BalancerPolicySet: v1(objectOf<E.BalancerPolicySet>()({ policy, at: isoTime })),
  BalancerRunRecorded: {
    version: 2,
    schema: objectOf<E.BalancerRunRecorded>()({
      at: isoTime,
      trigger: z.enum(['interval', 'pressure', 'manual']),
      summary: z.string(),
      moves: z.array(recordedMove),
      policy: currentPolicy.optional(),
      source: z.enum(['allocation', 'measured']).optional(),
      hosts: z.array(hostInput),
      candidates: z.array(candidate),
    }),
    upcasters: { 1: balancerRunV1toV2 },
  },
  BalancerRunRepeated: v1(
    objectOf<E.BalancerRunRepeated>()({ runPosition: z.number().int().min(1), count: z.number().int().min(1), lastAt: isoTime }),
  ),
};
