/**
 * Schemas of the telemetry service's events (`berth.telemetry.<streamType>.<Type>`): version 1, but
 * `DecisionRecorded` at 2 (its input recorded as a delta; version 1's whole input upcasts to a keyframe);
 * former names: docs/events.md, "Renamed events".
 */
import { z } from 'zod';
import { encodeDecisionInput, type DecisionInput, type RecordedInput, type RecordedSamples } from '../../telemetry-input.ts';
import type { Control, DiskIoTuneWire, HostSampleMessage, TelemetryCapabilitiesWire } from '../../telemetry.ts';
import type * as T from '../telemetry.ts';
import type { ServiceEvents } from './catalog.ts';
import { count, isoTime, nonEmpty, objectOf } from './define.ts';

const v1 = <D>(schema: z.ZodType<D>) => ({ version: 1, schema }) as const;
const renamed = <D>(formerNames: readonly string[], schema: z.ZodType<D>) => ({ version: 1, schema, formerNames }) as const;

const capabilities = objectOf<TelemetryCapabilitiesWire>()({
  hostMemory: z.boolean(),
  ksmStats: z.boolean(),
  ksmRun: z.boolean(),
  ksmTune: z.boolean(),
  cpuTune: z.boolean(),
  ioTune: z.boolean(),
  balloon: z.boolean(),
  hostFiles: z.boolean().optional(),
});
/**
 * A sample's statistics: `z.record(z.string(), z.number())`, which is the definition. That schema checks
 * and copies each of the ~20 values of each of a host's ~50 entities one by one, a quarter of the
 * service's busy time at 1,000 hosts; samples arrive fresh from `JSON.parse` and are owned by the
 * receiver, so the well-formed case is checked in one loop over the parsed object (no copy), and only
 * a record that fails it goes through `statRecord`, whose issues (path to the value, reason) are the
 * answer. `statValues.unit.spec` checks that both accept exactly the same inputs.
 */
export const statRecord = z.record(z.string(), z.number());

/** Exactly what `statRecord` accepts (plain object; every own key but `__proto__` a finite number). */
export function isStatRecord(v: unknown): v is Record<string, number> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  const proto: unknown = Object.getPrototypeOf(v);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const k of Object.keys(v)) {
    const x = (v as Record<string, unknown>)[k];
    if ((typeof x !== 'number' || !Number.isFinite(x)) && k !== '__proto__') return false;
  }
  return true;
}

export const statValues: z.ZodType<Record<string, number>> = z
  .custom<Record<string, number>>(() => true)
  .superRefine((v, ctx) => {
    if (isStatRecord(v)) {
      // what statRecord leaves out of its copy
      if (Object.prototype.hasOwnProperty.call(v, '__proto__')) delete (v as Record<string, unknown>)['__proto__'];
      return;
    }
    const r = statRecord.safeParse(v);
    for (const issue of r.error?.issues ?? []) ctx.addIssue({ ...issue, code: 'custom', input: v });
  });

/** One disk's I/O limits (MOM's GuestIoTune entry). */
export const diskIoTuneSchema = objectOf<DiskIoTuneWire>()({
  name: nonEmpty,
  path: z.string(),
  guaranteed: statRecord,
  maximum: statRecord,
  current: statRecord,
});

/** Exactly what `diskIoTuneSchema` accepts and returns unchanged, in one pass without a copy. */
export function isDiskIoTuneList(v: unknown): v is DiskIoTuneWire[] {
  if (!Array.isArray(v)) return false;
  for (const d of v as unknown[]) {
    if (typeof d !== 'object' || d === null || Array.isArray(d)) return false;
    const r = d as Record<string, unknown>;
    if (typeof r['name'] !== 'string' || r['name'].length === 0 || typeof r['path'] !== 'string') return false;
    if (!isStatRecord(r['guaranteed']) || !isStatRecord(r['maximum']) || !isStatRecord(r['current'])) return false;
    for (const k of ['guaranteed', 'maximum', 'current']) if (Object.hasOwn(r[k] as object, '__proto__')) return false;
  }
  return true;
}

/** A host sample on `berth.samples.<hostId>` (a metric on core NATS, not an event: no catalog entry). */
export const hostSampleSchema = objectOf<HostSampleMessage>()({
  v: z.literal(1),
  hostId: nonEmpty,
  at: z.string(),
  capabilities,
  host: statValues,
  guests: z.array(
    objectOf<HostSampleMessage['guests'][number]>()({ vmId: nonEmpty, stats: statValues, ioTune: z.array(diskIoTuneSchema).optional() }),
  ),
});

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
const props = z.record(z.string(), z.union([z.string(), z.number()]));
const samples = objectOf<RecordedSamples>()({ drop: count, add: z.array(z.array(z.number().nullable())) });
const recordedInput = objectOf<RecordedInput>()({
  base: z.uuid().nullable(),
  depth: count,
  stats: objectOf<RecordedInput['stats']>()({ host: z.array(z.string()), guest: z.array(z.string()) }),
  mom: objectOf<RecordedInput['mom']>()({
    host: samples,
    host_props: props,
    guests: z.array(
      objectOf<RecordedInput['mom']['guests'][number]>()({
        name: nonEmpty,
        uuid: z.string(),
        props,
        history: samples,
        ioTune: z.array(diskIoTuneSchema).optional(),
      }),
    ),
    config: objectOf<RecordedInput['mom']['config']>()({ history_length: count, host_collectors: z.array(nonEmpty).optional() }),
  }),
  capabilities,
  ioTuneApplied: z.record(z.string(), z.string()),
});

/** Version 1 recorded the whole input (a `DecisionInput`): version 2 records it as a keyframe. */
const decisionV1toV2 = (data: unknown): unknown => {
  const d = data as { input?: DecisionInput };
  if (typeof d !== 'object' || d === null || typeof d.input?.mom !== 'object' || !Array.isArray(d.input.mom.guests))
    throw new Error('input: not a recorded interval input');
  return { ...d, input: encodeDecisionInput(d.input) };
};

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
  DecisionRecorded: {
    version: 2,
    upcasters: { 1: decisionV1toV2 },
    schema: objectOf<T.DecisionRecorded>()({
      hostId: nonEmpty,
      at: isoTime,
      policy: objectOf<T.DecisionRecorded['policy']>()({ scope: nonEmpty, version: count, digest: z.string() }),
      input: recordedInput,
      decided: objectOf<T.DecisionRecorded['decided']>()({ host: record, guests: z.record(z.string(), record) }),
      excludedGuests: z.array(z.string()),
      clamps: z.array(clamp),
      controls: z.array(control),
      unsupported: z.array(z.string()),
    }),
  },
  UnchangedIntervalsRecorded: renamed(
    ['IntervalsUnchanged'],
    objectOf<T.UnchangedIntervalsRecorded>()({
      entries: z.array(
        objectOf<T.IntervalEntry>()({
          hostId: nonEmpty,
          at: isoTime,
          policy: nonEmpty,
          error: z.string().optional(),
          superseded: z.literal(true).optional(),
        }),
      ),
    }),
  ),
};
