/**
 * Schemas of inventory's events (`berth.inventory.<streamType>.<Type>`): version 1 but
 * VmDeleteRequested (2: no location for a VM never placed; v1 held empty strings). Former names:
 * docs/events.md ("Renamed events").
 */
import { z } from 'zod';
import type * as I from '../inventory.ts';
import type { ServiceEvents } from './catalog.ts';
import { bytes, count, isoTime, nonEmpty, objectOf, opaque, positiveInt } from './define.ts';
import { claimSchema, hardwareConfigSchema, hostCapacitySchema, hostStateSchema, vmSpecSchema } from './model.ts';

const v1 = <T>(schema: z.ZodType<T>) => ({ version: 1, schema }) as const;
const renamed = <T>(formerNames: readonly string[], schema: z.ZodType<T>) => ({ version: 1, schema, formerNames }) as const;

const addressTranslation = objectOf<I.AddressTranslation>()({ address: nonEmpty, basePort: z.number().int().min(1).max(65535) });
const hostRecordShape = {
  capacity: hostCapacitySchema,
  hypervisorUri: nonEmpty,
  addressTranslation: addressTranslation.optional(),
};
const location = objectOf<I.VmLocation>()({ hostId: nonEmpty, hypervisorUri: nonEmpty });
const logPosition = objectOf<I.LogPosition>()({ transactionId: z.string().regex(/^\d+$/), position: z.string().regex(/^\d+$/) });
const alternate = objectOf<I.VmPlaced['alternates'][number]>()({ hostId: nonEmpty, generation: count });

/** A project name (a DNS label; inventory's domain/project/validate.ts). */
const projectName = z.string().regex(/^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/);
const amounts = z.record(nonEmpty, count);
const projectQuota = objectOf<I.ProjectQuota>()({
  vms: count.optional(),
  vcpus: count.optional(),
  memoryBytes: bytes.optional(),
  devices: amounts,
});
const projectUsage = objectOf<I.ProjectUsage>()({ vcpus: count, memoryBytes: bytes, devices: amounts });
const binding = objectOf<I.IdentityBound>()({ identity: nonEmpty, project: projectName });

export const inventoryEventDefinitions: ServiceEvents<I.InventoryEventMap> = {
  ProjectCreated: v1(objectOf<I.ProjectCreated>()({ project: projectName, description: z.string() })),
  ProjectQuotaSet: v1(objectOf<I.ProjectQuotaSet>()({ project: projectName, quota: projectQuota })),
  ProjectVmAdmitted: v1(objectOf<I.ProjectVmAdmitted>()({ project: projectName, vmId: nonEmpty, usage: projectUsage })),
  ProjectVmReleased: v1(objectOf<I.ProjectVmReleased>()({ project: projectName, vmId: nonEmpty, usage: projectUsage })),
  IdentityBound: v1(binding),
  IdentityUnbound: v1(objectOf<I.IdentityUnbound>()({ identity: nonEmpty, project: projectName })),
  HostRegistered: v1(objectOf<I.HostRegistered>()({ ...hostRecordShape, hostId: nonEmpty })),
  HostUpdated: v1(objectOf<I.HostUpdated>()(hostRecordShape)),
  HostStateChanged: v1(objectOf<I.HostStateChanged>()({ from: hostStateSchema, to: hostStateSchema, reason: z.string() })),
  HostRemoved: v1(objectOf<I.HostRemoved>()({ reason: z.string() })),
  ResourcesClaimed: v1(objectOf<I.ResourcesClaimed>()({ claim: claimSchema, expectedGeneration: count })),
  ClaimReleased: v1(objectOf<I.ClaimReleased>()({ vmId: nonEmpty, claim: claimSchema, reason: z.string() })),
  HardwareConfigApplied: v1(objectOf<I.HardwareConfigApplied>()({ config: hardwareConfigSchema, source: z.string() })),
  VmRequested: v1(
    objectOf<I.VmRequested>()({
      vmId: nonEmpty,
      project: projectName.optional(),
      spec: vmSpecSchema,
      attempt: positiveInt,
      excludedHosts: z.array(z.string()),
      capacityDeadline: isoTime.optional(),
    }),
  ),
  VmPlaced: v1(
    objectOf<I.VmPlaced>()({
      hostId: nonEmpty,
      hypervisorUri: nonEmpty,
      spec: vmSpecSchema,
      attempt: positiveInt.optional(),
      claim: claimSchema,
      generation: count,
      explanation: opaque,
      alternates: z.array(alternate),
    }),
  ),
  VmPlacementFailed: v1(objectOf<I.VmPlacementFailed>()({ reason: z.string(), explanation: opaque })),
  VmPlacementDeferred: renamed(
    ['VmAwaitingCapacity'],
    objectOf<I.VmPlacementDeferred>()({ reason: z.string(), explanation: opaque, until: isoTime, viewPosition: logPosition.optional() }),
  ),
  VmProvisioningStarted: renamed(['VmProvisioning'], location),
  VmBecameRunning: renamed(['VmRunning'], location),
  VmProvisionFailed: v1(
    objectOf<I.VmProvisionFailed>()({ hostId: nonEmpty, hypervisorUri: nonEmpty, reason: z.string(), attempt: positiveInt }),
  ),
  VmStartRequested: v1(location),
  VmStopRequested: v1(objectOf<I.VmStopRequested>()({ hostId: nonEmpty, hypervisorUri: nonEmpty, force: z.boolean() })),
  VmRebootRequested: v1(location),
  VmStopped: v1(location),
  VmOperationFailed: v1(
    objectOf<I.VmOperationFailed>()({
      hostId: nonEmpty,
      hypervisorUri: nonEmpty,
      operation: z.enum(['start', 'stop', 'reboot', 'delete']),
      reason: z.string(),
    }),
  ),
  VmDeleteRequested: {
    version: 2,
    schema: objectOf<I.VmDeleteRequested>()({ hostId: nonEmpty.optional(), hypervisorUri: nonEmpty.optional() }),
    // v1 → v2: the empty location of a VM deleted before placement is left out.
    upcasters: { 1: (d) => (typeof d === 'object' && d !== null && (d as I.VmLocation).hostId === '' ? {} : d) },
  },
  VmDeleted: v1(objectOf<I.VmDeleted>()({ reason: z.string() })),
  VmMigrationStarted: v1(
    objectOf<I.VmMigrationStarted>()({
      migrationId: nonEmpty,
      sourceHostId: nonEmpty,
      hostId: nonEmpty,
      hypervisorUri: nonEmpty,
      claim: claimSchema,
      generation: count,
    }),
  ),
  VmMigrated: v1(
    objectOf<I.VmMigrated>()({
      migrationId: nonEmpty,
      fromHostId: nonEmpty,
      hostId: nonEmpty,
      hypervisorUri: nonEmpty,
      claim: claimSchema,
      generation: count,
    }),
  ),
  VmMigrationAborted: v1(objectOf<I.VmMigrationAborted>()({ migrationId: nonEmpty, hostId: nonEmpty, reason: z.string() })),
};
