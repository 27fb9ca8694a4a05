/**
 * Schemas of the placement executor's events (`berth.executor.<streamType>.<Type>`): version 1 but
 * DomainDeleted and DomainOperationFailed (2: a VM never provisioned here carries no location; v1,
 * written as VmDeleted / VmOperationFailed, held an empty host, URI and attempt 0). Former names:
 * docs/events.md ("Renamed events").
 */
import { z } from 'zod';
import type * as X from '../executor.ts';
import type { ServiceEvents } from './catalog.ts';
import { bytes, count, isoTime, nonEmpty, objectOf } from './define.ts';

const v1 = <T>(schema: z.ZodType<T>) => ({ version: 1, schema }) as const;
const renamed = <T>(formerNames: readonly string[], schema: z.ZodType<T>) => ({ version: 1, schema, formerNames }) as const;

const loc = { vmId: nonEmpty, hostId: nonEmpty, hypervisorUri: z.string(), attempt: count };
const ref = { vmId: nonEmpty, hostId: nonEmpty.optional(), hypervisorUri: z.string().optional(), attempt: count.optional() };
/** v1 → v2 of DomainDeleted / DomainOperationFailed: the empty location of a VM never provisioned here is left out. */
function dropEmptyLocation(data: unknown): unknown {
  if (typeof data !== 'object' || data === null) return data;
  const { hostId, hypervisorUri, attempt, ...rest } = data as Record<string, unknown>;
  if (hostId !== '') return data;
  return { ...rest, ...(hypervisorUri !== '' && { hypervisorUri }), ...(attempt !== 0 && { attempt }) };
}
const migrationRef = { ...loc, migrationId: nonEmpty, migrationAttempt: z.number().int().min(1), cold: z.literal(true).optional() };
const operation = z.enum(['start', 'stop', 'reboot', 'delete']);
const volumeRef = objectOf<X.VolumeRef>()({ pool: z.string(), name: nonEmpty, sizeBytes: bytes });

export const executorEventDefinitions: ServiceEvents<X.ExecutorEventMap> = {
  DomainProvisioningStarted: renamed(
    ['VmProvisioning'],
    objectOf<X.DomainProvisioningStarted>()({ ...loc, domainName: nonEmpty, domainUuid: nonEmpty, registrationDeadline: isoTime }),
  ),
  VolumesCreated: v1(objectOf<X.VolumesCreated>()({ ...loc, volumes: z.array(volumeRef) })),
  DomainDefined: v1(objectOf<X.DomainDefined>()({ ...loc, domainName: nonEmpty, domainUuid: nonEmpty })),
  DomainStarted: v1(objectOf<X.DomainStarted>()(loc)),
  VmStarted: v1(
    objectOf<X.VmStarted>()({ ...loc, cause: z.enum(['provisioned', 'start-requested', 'rebooted', 'restarted-by-reconciliation']) }),
  ),
  DomainProvisionFailed: renamed(
    ['VmProvisionFailed'],
    objectOf<X.DomainProvisionFailed>()({ ...loc, reason: z.string(), permanent: z.boolean() }),
  ),
  OperationRequested: v1(objectOf<X.OperationRequested>()({ ...loc, operation, force: z.boolean(), requestId: nonEmpty })),
  DomainStopped: renamed(['VmStopped'], objectOf<X.DomainStopped>()({ ...loc, how: z.enum(['graceful', 'forced', 'already-stopped']) })),
  DomainDeleted: {
    version: 2,
    schema: objectOf<X.DomainDeleted>()({ ...ref, reason: z.string() }),
    upcasters: { 1: dropEmptyLocation },
    formerNames: ['VmDeleted'],
  },
  DomainOperationFailed: {
    version: 2,
    schema: objectOf<X.DomainOperationFailed>()({ ...ref, operation, reason: z.string() }),
    upcasters: { 1: dropEmptyLocation },
    formerNames: ['VmOperationFailed'],
  },
  DomainDriftDetected: renamed(
    ['DomainDrift'],
    objectOf<X.DomainDriftDetected>()({
      ...loc,
      expected: z.enum(['running', 'shut-off', 'absent']),
      actual: z.string(),
      action: z.enum(['restarted', 'redefined-and-started', 'removed', 'reported']),
    }),
  ),
  UnknownDomainFound: v1(
    objectOf<X.UnknownDomainFound>()({ hostId: nonEmpty, hypervisorUri: z.string(), domainName: nonEmpty, state: z.string() }),
  ),
  VmMigrationStarted: v1(objectOf<X.VmMigrationStarted>()({ ...migrationRef, destinationHostId: nonEmpty, destinationUri: z.string() })),
  VmMigrationProgressed: renamed(
    ['VmMigrationProgress'],
    objectOf<X.VmMigrationProgressed>()({
      ...migrationRef,
      dataTotalBytes: z.number().min(0),
      dataProcessedBytes: z.number().min(0),
      dataRemainingBytes: z.number().min(0),
      memoryDirtyRateBytesPerSecond: z.number().min(0).optional(),
      iteration: count.optional(),
      elapsedMillis: z.number().min(0),
      phase: z.enum(['precopy', 'postcopy']),
    }),
  ),
  VmMigrationCancelRequested: v1(objectOf<X.VmMigrationCancelRequested>()({ ...migrationRef, reason: z.string() })),
  VmMigrated: v1(
    objectOf<X.VmMigrated>()({
      ...migrationRef,
      fromHostId: nonEmpty,
      fromHypervisorUri: z.string(),
      confirmedBy: z.enum(['migrate-call', 'hypervisors']),
    }),
  ),
  VmMigrationFailed: v1(
    objectOf<X.VmMigrationFailed>()({
      ...migrationRef,
      reason: z.string(),
      cause: z.enum(['budget', 'cancelled', 'error', 'interrupted']),
    }),
  ),
  VmMigrationPostCopyPaused: v1(
    objectOf<X.VmMigrationPostCopyPaused>()({ ...migrationRef, destinationHostId: nonEmpty, detail: z.string() }),
  ),
};
