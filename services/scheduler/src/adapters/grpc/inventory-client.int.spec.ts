import { afterEach, describe, expect, it } from 'vitest';
import { inventoryV1 as pb } from '@berth/contracts';
import { ConcurrencyError, IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import { createGrpcServer, knownStatusOf, unary, type GrpcServer } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import type { Claim } from '@berth/fit';
import type { ClaimRequest } from '../../application/ports.ts';
import { GrpcInventory } from './inventory-client.ts';

/**
 * A stand-in inventory over real gRPC: the claim of `vm-ok` succeeds, `vm-stale` is ABORTED,
 * `vm-gone` NOT_FOUND (and GetVm says it is gone), `vm-full` FAILED_PRECONDITION while still waiting.
 */
function decide(r: pb.ClaimResourcesRequest): number {
  if (r.vmId === 'vm-stale') throw new ConcurrencyError(`host-${r.hostId}`, 1, 3);
  if (r.vmId === 'vm-gone') throw new NotFoundError('vm', r.vmId);
  if (r.vmId === 'vm-full') throw new IllegalStateError('claim no longer fits');
  return r.expectedGeneration + 1;
}

const claimFor = (vmId: string): ClaimRequest => {
  const claim: Claim = {
    vmId,
    hostId: 'h1',
    vcpus: 1,
    memoryBytes: 1024,
    pinnedCpus: [],
    numaCells: [],
    hugepages: [],
    devices: [],
    vfs: [],
    volumes: [],
    affinityGroups: [],
  };
  return { commandId: `c-${vmId}`, vmId, hostId: 'h1', expectedGeneration: 4, claim, explanation: '{}', alternates: [] };
};

describe('GrpcInventory claims', () => {
  let server: GrpcServer | undefined;
  let inventory: GrpcInventory | undefined;
  afterEach(async () => {
    inventory?.close();
    await server?.shutdown(0, 1000);
  });

  const start = async (withBatch: boolean) => {
    const calls = { batch: [] as number[], single: 0 };
    const impl: Record<string, unknown> = {
      claimResources: unary<pb.ClaimResourcesRequest, pb.ClaimResourcesResponse>(async (r) => {
        calls.single += 1;
        return { generation: decide(r) };
      }),
      getVm: unary<pb.GetVmRequest, pb.GetVmResponse>(async (r) => {
        if (r.vmId === 'vm-gone') throw new NotFoundError('vm', r.vmId);
        if (r.vmId.includes('/')) throw new ValidationError({ field: 'vmId', reason: 'must be an id' });
        return { vm: pb.Vm.fromPartial({ vmId: r.vmId, status: pb.VmStatus.VM_STATUS_REQUESTED }) };
      }),
    };
    if (withBatch) {
      impl['claimResourcesBatch'] = unary<pb.ClaimResourcesBatchRequest, pb.ClaimResourcesBatchResponse>(async (r) => {
        calls.batch.push(r.claims.length);
        return {
          results: r.claims.map((c) => {
            try {
              return { code: 0, message: '', generation: decide(c), fieldViolations: [] };
            } catch (e) {
              const s = knownStatusOf(e)!;
              return { code: s.code, message: s.details, generation: 0, fieldViolations: [] };
            }
          }),
        };
      });
    }
    server = createGrpcServer({
      serviceName: 'inventory-stand-in',
      services: [{ definition: pb.InventoryServiceService, implementation: impl as never }],
      readiness: async () => true,
      logger: createLogger('inventory-stand-in', { level: 'fatal' }),
    });
    const port = await server.listen(0, '127.0.0.1');
    inventory = new GrpcInventory(`127.0.0.1:${port}`, { deadlineMillis: 5000 });
    return calls;
  };

  const outcomes = (inv: GrpcInventory) =>
    Promise.all(['vm-ok', 'vm-stale', 'vm-gone', 'vm-full'].map((vmId) => inv.claim(claimFor(vmId))));
  const expected = [
    { kind: 'claimed', generation: 5 },
    { kind: 'generation-moved', detail: expect.any(String) },
    { kind: 'vm-not-pending', detail: expect.any(String) },
    { kind: 'no-longer-fits', detail: 'claim no longer fits' },
  ];

  it('sends concurrent claims in one ClaimResourcesBatch and maps each answer', async () => {
    const calls = await start(true);
    expect(await outcomes(inventory!)).toEqual(expected);
    expect(calls).toEqual({ batch: [4], single: 0 });
  });

  it('falls back to one ClaimResources per claim against an inventory without the batch call', async () => {
    const calls = await start(false);
    expect(await outcomes(inventory!)).toEqual(expected);
    expect(await inventory!.claim(claimFor('vm-ok'))).toEqual({ kind: 'claimed', generation: 5 });
    expect(calls).toEqual({ batch: [], single: 5 });
  });

  // Seed found by test/fuzz-grpc.e2e.spec.ts: Explain { vmId: "../../etc/passwd" } answered INTERNAL.
  it('turns an id inventory refuses into a ValidationError of vmId (INVALID_ARGUMENT), not an internal error', async () => {
    await start(false);
    const refused = await inventory!.lastDecision('../../etc/passwd').catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(ValidationError);
    expect((refused as ValidationError).violations).toEqual([{ field: 'vmId', reason: 'vmId: must be an id' }]);
    expect(await inventory!.lastDecision('vm-gone')).toBeUndefined();
  });
});
