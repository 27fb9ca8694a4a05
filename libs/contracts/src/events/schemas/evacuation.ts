/**
 * Schemas of the migration service's evacuation (`berth.migration.evacuation.<Type>`) and balancer
 * (`berth.migration.balancer.<Type>`) events, all at version 1; in the catalog under the
 * `migration` service beside the migration aggregate's own.
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
  EvacuationCancelRequested: v1(objectOf<E.EvacuationCancelRequested>()({ abortRunning: z.boolean(), reason: z.string(), at: isoTime })),
  EvacuationCompleted: v1(objectOf<E.EvacuationCompleted>()({ moved: count, at: isoTime })),
  EvacuationCancelled: v1(objectOf<E.EvacuationCancelled>()({ restoredState: hostStateSchema, at: isoTime })),
};

const policy = objectOf<E.RecordedBalancerPolicy>()({
  pool: nonEmpty,
  mode: z.enum(['off', 'pack', 'spread']),
  highThreshold: fraction,
  lowThreshold: fraction,
  windowSeconds: seconds,
  maxMovesPerInterval: z.number().int().min(1),
  intervalSeconds: z.number().int().min(1),
  minImprovement: fraction,
  cooldownSeconds: seconds,
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

export const balancerEventDefinitions: ServiceEvents<E.BalancerEventMap> = {
  BalancerPolicySet: v1(objectOf<E.BalancerPolicySet>()({ policy, at: isoTime })),
  BalancerRunRecorded: v1(
    objectOf<E.BalancerRunRecorded>()({
      at: isoTime,
      trigger: z.enum(['interval', 'pressure', 'manual']).optional(),
      summary: z.string(),
      moves: z.array(recordedMove),
    }),
  ),
};
