/**
 * InventoryPort over inventory's gRPC API. Claims of concurrent placements travel together in one
 * ClaimResourcesBatch call (each answered with its own status; one ClaimResources per claim against
 * an inventory without it). gRPC status codes become the application's outcomes here and nowhere
 * else: ABORTED = the host generation moved; FAILED_PRECONDITION = the claim no longer fits, or the
 * VM is no longer waiting (told apart by asking GetVm); NOT_FOUND of the VM = deleted. Anything else
 * (UNAVAILABLE, DEADLINE_EXCEEDED, ...) is thrown, so the request is redelivered later.
 */
import { inventoryV1 } from '@berth/contracts';
import { GrpcStatus, callUnary, createClient, isServiceError, type ClientOptions } from '@berth/grpc-kit';
import { ValidationError } from '@berth/errors';
import { encodeClaim } from '@berth/model-codec';
import type { ClaimOutcome, ClaimRequest, InventoryPort, PlacementFailedReport, RecordedDecision } from '../../application/ports.ts';
import { Coalescer } from './coalescer.ts';

type Client = InstanceType<typeof inventoryV1.InventoryServiceClient>;

/** One claim as inventory's ClaimResources(Batch) takes it. */
export function toClaimRequest(req: ClaimRequest): inventoryV1.ClaimResourcesRequest {
  return {
    meta: { commandId: req.commandId },
    vmId: req.vmId,
    hostId: req.hostId,
    expectedGeneration: req.expectedGeneration,
    claim: encodeClaim(req.claim),
    explanationJson: req.explanation,
    alternates: req.alternates.map((a) => ({ hostId: a.hostId, generation: a.generation })),
  };
}

const isStatus = (e: unknown, code: GrpcStatus): e is { code: GrpcStatus; details: string } => isServiceError(e) && e.code === code;

/** What inventory answered one claim: its status code, and the new generation when OK. */
interface ClaimAnswer {
  readonly code: GrpcStatus;
  readonly details: string;
  readonly generation: number;
}

/** The codes a claim's answer turns into an outcome; anything else is thrown (the VmRequested is redelivered). */
const CLAIM_OUTCOME_CODES = new Set([GrpcStatus.OK, GrpcStatus.ABORTED, GrpcStatus.FAILED_PRECONDITION, GrpcStatus.NOT_FOUND]);

export class GrpcInventory implements InventoryPort {
  private readonly client: Client;
  /** The claims of all placements in flight go to inventory together (ClaimResourcesBatch). */
  private readonly claims: Coalescer<inventoryV1.ClaimResourcesRequest, ClaimAnswer>;
  /** Set when inventory answered UNIMPLEMENTED (an older version): one ClaimResources per claim. */
  private batchUnsupported = false;

  /** `options`: the call deadline, this service's own identity (mutual TLS) when the deployment has one, GRPC_CONNECT_TIMEOUT. */
  constructor(address: string, options: ClientOptions) {
    this.client = createClient(inventoryV1.InventoryServiceClient, address, options);
    this.claims = new Coalescer((batch) => this.sendClaims(batch));
  }

  close(): void {
    this.client.close();
  }

  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    const answer = await this.claims.submit(toClaimRequest(req));
    if (answer.code === GrpcStatus.OK) return { kind: 'claimed', generation: answer.generation };
    if (answer.code === GrpcStatus.ABORTED) return { kind: 'generation-moved', detail: answer.details };
    if (answer.code === GrpcStatus.FAILED_PRECONDITION || answer.code === GrpcStatus.NOT_FOUND) {
      const status = await this.vmStatus(req.vmId);
      if (status !== inventoryV1.VmStatus.VM_STATUS_REQUESTED) return { kind: 'vm-not-pending', detail: answer.details };
      return { kind: 'no-longer-fits', detail: answer.details };
    }
    throw Object.assign(new Error(`claim of ${req.vmId} on ${req.hostId}: ${GrpcStatus[answer.code]}: ${answer.details}`), {
      code: answer.code,
      details: answer.details,
    });
  }

  private async sendClaims(batch: readonly inventoryV1.ClaimResourcesRequest[]): Promise<ClaimAnswer[]> {
    if (!this.batchUnsupported) {
      try {
        const { results } = await callUnary(this.client, 'claimResourcesBatch', { claims: [...batch] });
        return results.map((r) => ({ code: r.code, details: r.message, generation: r.generation }));
      } catch (e) {
        if (!isStatus(e, GrpcStatus.UNIMPLEMENTED)) throw e;
        this.batchUnsupported = true;
      }
    }
    return Promise.all(
      batch.map(async (c): Promise<ClaimAnswer> => {
        try {
          return { code: GrpcStatus.OK, details: '', generation: (await callUnary(this.client, 'claimResources', c)).generation };
        } catch (e) {
          if (isServiceError(e) && CLAIM_OUTCOME_CODES.has(e.code)) return { code: e.code, details: e.details, generation: 0 };
          throw e;
        }
      }),
    );
  }

  async reportPlacementFailed(req: PlacementFailedReport): Promise<'recorded' | 'vm-not-pending'> {
    try {
      await callUnary(this.client, 'reportPlacementFailed', {
        meta: { commandId: req.commandId },
        vmId: req.vmId,
        reason: req.reason,
        explanationJson: req.explanation,
        ...(req.viewPosition !== undefined
          ? { viewTransactionId: req.viewPosition.transactionId, viewPosition: req.viewPosition.position }
          : {}),
      });
      return 'recorded';
    } catch (e) {
      if (isStatus(e, GrpcStatus.FAILED_PRECONDITION) || isStatus(e, GrpcStatus.NOT_FOUND)) return 'vm-not-pending';
      throw e;
    }
  }

  async lastDecision(vmId: string): Promise<RecordedDecision | undefined> {
    const vm = await this.getVm(vmId);
    if (vm === undefined || vm.explanationJson === '') return undefined;
    const failed = vm.status === inventoryV1.VmStatus.VM_STATUS_PLACEMENT_FAILED;
    return failed
      ? { vmId, outcome: 'failed', explanation: vm.explanationJson }
      : { vmId, outcome: 'placed', hostId: vm.hostId, explanation: vm.explanationJson };
  }

  async hasHost(hostId: string): Promise<boolean> {
    try {
      return (await callUnary(this.client, 'getHost', { hostId })).host !== undefined;
    } catch (e) {
      // Not found, or an id inventory refuses (no host can have it).
      if (isStatus(e, GrpcStatus.NOT_FOUND) || isStatus(e, GrpcStatus.INVALID_ARGUMENT)) return false;
      throw e;
    }
  }

  /** VM_STATUS_DELETED when inventory does not know the VM. */
  private async vmStatus(vmId: string): Promise<inventoryV1.VmStatus> {
    return (await this.getVm(vmId))?.status ?? inventoryV1.VmStatus.VM_STATUS_DELETED;
  }

  private async getVm(vmId: string): Promise<inventoryV1.Vm | undefined> {
    try {
      const res = await callUnary(this.client, 'getVm', { vmId });
      return res.vm;
    } catch (e) {
      if (isStatus(e, GrpcStatus.NOT_FOUND)) return undefined;
      // An id inventory refuses names no VM: the caller's input, not a fault here (was INTERNAL).
      if (isServiceError(e) && e.code === GrpcStatus.INVALID_ARGUMENT) throw new ValidationError({ field: 'vmId', reason: e.details });
      throw e;
    }
  }
}
