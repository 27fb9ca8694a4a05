/** Schemas of the telemetry service's events (`berth.telemetry.<streamType>.<Type>`), all at version 1 (former names: docs/events.md, "Renamed events"). */
import { z } from 'zod';
import type { Control } from '../../telemetry.ts';
import type * as T from '../telemetry.ts';
import type { ServiceEvents } from './catalog.ts';
import { count, isoTime, nonEmpty, objectOf } from './define.ts';

const v1 = <D>(schema: z.ZodType<D>) => ({ version: 1, schema }) as const;
const renamed = <D>(formerNames: readonly string[], schema: z.ZodType<D>) => ({ version: 1, schema, formerNames }) as const;

const kib = z.number().min(0);
const vmId = nonEmpty;
const optionalNumber = z.number().optional();
const control: z.ZodType<Control> = z.union([
  objectOf<Extract<Control, { kind: 'balloon' }>>()({ kind: z.literal('balloon'), vmId, targetKib: kib }),
  objectOf<Extract<Control, { kind: 'ksm' }>>()({
    kind: z.literal('ksm'),
    run: optionalNumber,
    pagesToScan: optionalNumber,
    sleepMillisecs: optionalNumber,
    mergeAcrossNodes: optionalNumber,
  }),
  objectOf<Extract<Control, { kind: 'cpuTune' }>>()({ kind: z.literal('cpuTune'), vmId, quota: z.number(), period: z.number() }),
  objectOf<Extract<Control, { kind: 'ioTune' }>>()({
    kind: z.literal('ioTune'),
    vmId,
    device: z.string(),
    totalBytesSec: optionalNumber,
    readBytesSec: optionalNumber,
    writeBytesSec: optionalNumber,
    totalIopsSec: optionalNumber,
    readIopsSec: optionalNumber,
    writeIopsSec: optionalNumber,
  }),
  objectOf<Extract<Control, { kind: 'power' }>>()({
    kind: z.literal('power'),
    vmId,
    action: z.enum(['off', 'on']),
    reason: z.string(),
    commandId: nonEmpty,
  }),
]);
const clamp = objectOf<T.Clamp>()({
  vmId,
  control: z.literal('balloon_target'),
  decided: z.number(),
  applied: z.number().nullable(),
  rule: z.enum(['platinum-full-allocation', 'gold-75-percent', 'above-maximum', 'below-zero', 'priority-order', 'below-minimum-step']),
});
const record = z.record(z.string(), z.unknown());

export const telemetryEventDefinitions: ServiceEvents<T.TelemetryEventMap> = {
  PolicySetApplied: v1(
    objectOf<T.PolicySetApplied>()({
      scope: nonEmpty,
      version: z.number().int().min(1),
      digest: nonEmpty,
      files: z.array(objectOf<T.PolicyFile>()({ name: nonEmpty, text: z.string() })),
      source: z.enum(['builtin', 'applied']),
      appliedAt: isoTime,
    }),
  ),
  DecisionRecorded: v1(
    objectOf<T.DecisionRecorded>()({
      hostId: nonEmpty,
      at: isoTime,
      policy: objectOf<T.DecisionRecorded['policy']>()({ scope: nonEmpty, version: count, digest: z.string() }),
      input: z.unknown(),
      decided: objectOf<T.DecisionRecorded['decided']>()({ host: record, guests: z.record(z.string(), record) }),
      excludedGuests: z.array(z.string()),
      clamps: z.array(clamp),
      controls: z.array(control),
      unsupported: z.array(z.string()),
    }),
  ),
  UnchangedIntervalsRecorded: renamed(
    ['IntervalsUnchanged'],
    objectOf<T.UnchangedIntervalsRecorded>()({
      entries: z.array(objectOf<T.IntervalEntry>()({ hostId: nonEmpty, at: isoTime, policy: nonEmpty, error: z.string().optional() })),
    }),
  ),
};
