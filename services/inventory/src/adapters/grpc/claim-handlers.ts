/** Claim and migration RPCs (the scheduler's and migration's calls), one named handler each. */
import type { inventoryV1 as pb } from '@berth/contracts';
import { ValidationError } from '@berth/errors';
import { GrpcStatus, knownStatusOf } from '@berth/grpc-kit';
import { decodeClaim } from '@berth/model-codec';
import { commandId, json, required, viewPositionOf } from './decode.ts';
import type { InventoryApp } from './service.ts';
import { encodeVm } from './vm-codec.ts';

/** Claims per ClaimResourcesBatch call. */
export const MAX_BATCH_CLAIMS = 1000;

const claim = ({ vms }: InventoryApp, r: pb.ClaimResourcesRequest) =>
  vms.claim({
    commandId: commandId(r.meta),
    vmId: r.vmId,
    hostId: r.hostId,
    expectedGeneration: r.expectedGeneration,
    claim: decodeClaim(required(r.claim, 'claim')),
    explanation: json(r.explanationJson, 'explanationJson'),
    alternates: r.alternates.map((a) => ({ hostId: a.hostId, generation: a.generation })),
  });

export async function claimResources(app: InventoryApp, r: pb.ClaimResourcesRequest): Promise<pb.ClaimResourcesResponse> {
  const result = await claim(app, r);
  return { generation: result.generation, vm: encodeVm(result.vm) };
}

/** Each claim answered with its own status; all in flight at once, so inventory's batcher commits them together. */
export async function claimResourcesBatch(app: InventoryApp, r: pb.ClaimResourcesBatchRequest): Promise<pb.ClaimResourcesBatchResponse> {
  if (r.claims.length > MAX_BATCH_CLAIMS)
    throw new ValidationError({ field: 'claims', reason: `at most ${MAX_BATCH_CLAIMS} per call, got ${r.claims.length}` });
  const results = await Promise.all(
    r.claims.map(async (c): Promise<pb.ClaimResult> => {
      try {
        return { code: GrpcStatus.OK, message: '', generation: (await claim(app, c)).generation, fieldViolations: [] };
      } catch (e) {
        const known = knownStatusOf(e);
        if (known === undefined) throw e; // unexpected: the whole call fails as INTERNAL, logged
        return {
          code: known.code,
          message: known.details,
          generation: 0,
          fieldViolations: known.violations.map((v) => ({ field: v.field, reason: v.reason })),
        };
      }
    }),
  );
  return { results };
}

export async function releaseClaim({ vms }: InventoryApp, r: pb.ReleaseClaimRequest): Promise<pb.ReleaseClaimResponse> {
  return {
    generation: await vms.releaseClaim({ commandId: commandId(r.meta), vmId: r.vmId, hostId: r.hostId, reason: r.reason || 'released' }),
  };
}

export async function reportPlacementFailed(
  { vms }: InventoryApp,
  r: pb.ReportPlacementFailedRequest,
): Promise<pb.ReportPlacementFailedResponse> {
  const view = await vms.reportPlacementFailed({
    commandId: commandId(r.meta),
    vmId: r.vmId,
    reason: r.reason || 'no host fits',
    explanation: json(r.explanationJson, 'explanationJson'),
    ...viewPositionOf(r),
  });
  return { vm: encodeVm(view) };
}

export async function beginVmMigration({ vms }: InventoryApp, r: pb.BeginVmMigrationRequest): Promise<pb.BeginVmMigrationResponse> {
  const result = await vms.beginMigration({
    commandId: commandId(r.meta),
    vmId: r.vmId,
    migrationId: r.migrationId,
    hostId: r.hostId,
    expectedGeneration: r.expectedGeneration,
    claim: decodeClaim(required(r.claim, 'claim')),
    automatic: r.automatic,
  });
  return { generation: result.generation, hypervisorUri: result.hypervisorUri, vm: encodeVm(result.vm) };
}

export async function completeVmMigration(
  { vms }: InventoryApp,
  r: pb.CompleteVmMigrationRequest,
): Promise<pb.CompleteVmMigrationResponse> {
  return { vm: encodeVm(await vms.completeMigration({ commandId: commandId(r.meta), vmId: r.vmId, migrationId: r.migrationId })) };
}

export async function abortVmMigration({ vms }: InventoryApp, r: pb.AbortVmMigrationRequest): Promise<pb.AbortVmMigrationResponse> {
  const reason = r.reason || 'aborted';
  return { vm: encodeVm(await vms.abortMigration({ commandId: commandId(r.meta), vmId: r.vmId, migrationId: r.migrationId, reason })) };
}
