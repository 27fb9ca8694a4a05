/** Claim and migration RPCs (the scheduler's and migration's calls), one named handler each. */
import type { inventoryV1 as pb } from '@berth/contracts';
import { ValidationError } from '@berth/errors';
import { GrpcStatus, knownStatusOf, type CallContext } from '@berth/grpc-kit';
import { decodeClaim } from '@berth/model-codec';
import { commandId, json, required, viewPositionOf } from './decode.ts';
import type { InventoryApp } from './service.ts';
import { encodeVm } from './vm-codec.ts';

/** Claims per ClaimResourcesBatch call. */
export const MAX_BATCH_CLAIMS = 1000;

const claim = ({ claims }: InventoryApp, r: pb.ClaimResourcesRequest, ctx: CallContext) =>
  claims.claim(
    {
      commandId: commandId(r.meta),
      vmId: r.vmId,
      hostId: r.hostId,
      expectedGeneration: r.expectedGeneration,
      claim: decodeClaim(required(r.claim, 'claim')),
      explanation: json(r.explanationJson, 'explanationJson'),
      alternates: r.alternates.map((a) => ({ hostId: a.hostId, generation: a.generation })),
    },
    ctx,
  );

export async function claimResources(app: InventoryApp, r: pb.ClaimResourcesRequest, ctx: CallContext): Promise<pb.ClaimResourcesResponse> {
  const result = await claim(app, r, ctx);
  return { generation: result.generation, vm: encodeVm(result.vm) };
}

/** Each claim answered with its own status; all in flight at once, so inventory's batcher commits them together. */
export async function claimResourcesBatch(
  app: InventoryApp,
  r: pb.ClaimResourcesBatchRequest,
  ctx: CallContext,
): Promise<pb.ClaimResourcesBatchResponse> {
  if (r.claims.length > MAX_BATCH_CLAIMS)
    throw new ValidationError({ field: 'claims', reason: `at most ${MAX_BATCH_CLAIMS} per call, got ${r.claims.length}` });
  const results = await Promise.all(
    r.claims.map(async (c): Promise<pb.ClaimResult> => {
      try {
        return { code: GrpcStatus.OK, message: '', generation: (await claim(app, c, ctx)).generation, fieldViolations: [] };
      } catch (e) {
        const known = knownStatusOf(e, ctx);
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

export async function releaseClaim(
  { claims }: InventoryApp,
  r: pb.ReleaseClaimRequest,
  ctx: CallContext,
): Promise<pb.ReleaseClaimResponse> {
  return {
    generation: await claims.releaseClaim(
      { commandId: commandId(r.meta), vmId: r.vmId, hostId: r.hostId, reason: r.reason || 'released' },
      ctx,
    ),
  };
}

export async function reportPlacementFailed(
  { vms }: InventoryApp,
  r: pb.ReportPlacementFailedRequest,
  ctx: CallContext,
): Promise<pb.ReportPlacementFailedResponse> {
  const view = await vms.reportPlacementFailed(
    {
      commandId: commandId(r.meta),
      vmId: r.vmId,
      reason: r.reason || 'no host fits',
      explanation: json(r.explanationJson, 'explanationJson'),
      ...viewPositionOf(r),
    },
    ctx,
  );
  return { vm: encodeVm(view) };
}

export async function beginVmMigration(
  { claims }: InventoryApp,
  r: pb.BeginVmMigrationRequest,
  ctx: CallContext,
): Promise<pb.BeginVmMigrationResponse> {
  const result = await claims.beginMigration(
    {
      commandId: commandId(r.meta),
      vmId: r.vmId,
      migrationId: r.migrationId,
      hostId: r.hostId,
      expectedGeneration: r.expectedGeneration,
      claim: decodeClaim(required(r.claim, 'claim')),
      automatic: r.automatic,
    },
    ctx,
  );
  return { generation: result.generation, hypervisorUri: result.hypervisorUri, vm: encodeVm(result.vm) };
}

export async function completeVmMigration(
  { claims }: InventoryApp,
  r: pb.CompleteVmMigrationRequest,
  ctx: CallContext,
): Promise<pb.CompleteVmMigrationResponse> {
  return { vm: encodeVm(await claims.completeMigration({ commandId: commandId(r.meta), vmId: r.vmId, migrationId: r.migrationId }, ctx)) };
}

export async function abortVmMigration(
  { claims }: InventoryApp,
  r: pb.AbortVmMigrationRequest,
  ctx: CallContext,
): Promise<pb.AbortVmMigrationResponse> {
  const reason = r.reason || 'aborted';
  return {
    vm: encodeVm(await claims.abortMigration({ commandId: commandId(r.meta), vmId: r.vmId, migrationId: r.migrationId, reason }, ctx)),
  };
}
