/** Schemas of the placement executor's events (`berth.executor.<streamType>.<Type>`), all at version 1. */
import { z } from 'zod';
import type * as X from '../executor.ts';
import type { ServiceEvents } from './catalog.ts';
import { bytes, count, isoTime, nonEmpty, objectOf } from './define.ts';

const v1 = <T>(schema: z.ZodType<T>) => ({ version: 1, schema }) as const;

// An operation on a VM that was never placed carries an empty host and attempt 0.
const loc = { vmId: nonEmpty, hostId: z.string(), hypervisorUri: z.string(), attempt: count };
const ref = { ...loc, migrationId: nonEmpty, migrationAttempt: z.number().int().min(1), cold: z.literal(true).optional() };
const operation = z.enum(['start', 'stop', 'reboot', 'delete']);
const volumeRef = objectOf<X.VolumeRef>()({ pool: z.string(), name: nonEmpty, sizeBytes: bytes });

export const executorEventDefinitions: ServiceEvents<X.ExecutorEventMap> = {
  VmProvisioning: v1(objectOf<X.VmProvisioning>()({ ...loc, domainName: nonEmpty, domainUuid: nonEmpty, registrationDeadline: isoTime })),
  VolumesCreated: v1(objectOf<X.VolumesCreated>()({ ...loc, volumes: z.array(volumeRef) })),
  DomainDefined: v1(objectOf<X.DomainDefined>()({ ...loc, domainName: nonEmpty, domainUuid: nonEmpty })),
  DomainStarted: v1(objectOf<X.DomainStarted>()(loc)),
  VmStarted: v1(
    objectOf<X.VmStarted>()({ ...loc, cause: z.enum(['provisioned', 'start-requested', 'rebooted', 'restarted-by-reconciliation']) }),
  ),
  VmProvisionFailed: v1(objectOf<X.VmProvisionFailed>()({ ...loc, reason: z.string(), permanent: z.boolean() })),
  OperationRequested: v1(objectOf<X.OperationRequested>()({ ...loc, operation, force: z.boolean(), requestId: nonEmpty })),
  VmStopped: v1(objectOf<X.VmStopped>()({ ...loc, how: z.enum(['graceful', 'forced', 'already-stopped']) })),
  VmDeleted: v1(objectOf<X.VmDeleted>()({ ...loc, reason: z.string() })),
  VmOperationFailed: v1(objectOf<X.VmOperationFailed>()({ ...loc, operation, reason: z.string() })),
  DomainDrift: v1(
    objectOf<X.DomainDrift>()({
      ...loc,
      expected: z.enum(['running', 'shut-off', 'absent']),
      actual: z.string(),
      action: z.enum(['restarted', 'redefined-and-started', 'removed', 'reported']),
    }),
  ),
  UnknownDomainFound: v1(
    objectOf<X.UnknownDomainFound>()({ hostId: nonEmpty, hypervisorUri: z.string(), domainName: nonEmpty, state: z.string() }),
  ),
  VmMigrationStarted: v1(objectOf<X.VmMigrationStarted>()({ ...ref, destinationHostId: nonEmpty, destinationUri: z.string() })),
  VmMigrationProgress: v1(
    objectOf<X.VmMigrationProgress>()({
      ...ref,
      dataTotalBytes: z.number().min(0),
      dataProcessedBytes: z.number().min(0),
      dataRemainingBytes: z.number().min(0),
      memoryDirtyRateBytesPerSecond: z.number().min(0).optional(),
      iteration: count.optional(),
      elapsedMillis: z.number().min(0),
      phase: z.enum(['precopy', 'postcopy']),
    }),
  ),
  VmMigrationCancelRequested: v1(objectOf<X.VmMigrationCancelRequested>()({ ...ref, reason: z.string() })),
  VmMigrated: v1(
    objectOf<X.VmMigrated>()({
      ...ref,
      fromHostId: nonEmpty,
      fromHypervisorUri: z.string(),
      confirmedBy: z.enum(['migrate-call', 'hypervisors']),
    }),
  ),
  VmMigrationFailed: v1(
    objectOf<X.VmMigrationFailed>()({ ...ref, reason: z.string(), cause: z.enum(['budget', 'cancelled', 'error', 'interrupted']) }),
  ),
  VmMigrationPostCopyPaused: v1(objectOf<X.VmMigrationPostCopyPaused>()({ ...ref, destinationHostId: nonEmpty, detail: z.string() })),
};
