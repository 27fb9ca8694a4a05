import type { inventoryV1 as pb } from '@berth/contracts';
import { migrationOf, placementOf } from '../../domain/vm/state.ts';
import type { VmView } from '../../application/vm-view.ts';
import { encodeClaim, encodeVmSpec, perObject, vmStatuses } from '@berth/model-codec';

/** The placement's explanation as JSON, serialised once per explanation (state keeps the object). */
const explanationText = perObject((explanation: object) => JSON.stringify(explanation));
const explanationJson = (explanation: unknown): string =>
  typeof explanation === 'object' && explanation !== null ? explanationText(explanation) : JSON.stringify(explanation);

export function encodeVm({ vm, requestedAt, updatedAt }: VmView): pb.Vm {
  const p = placementOf(vm);
  return {
    vmId: vm.core.vmId,
    spec: encodeVmSpec(vm.core.spec),
    status: vmStatuses.encode(vm.status),
    hostId: p?.hostId ?? '',
    ...(p ? { claim: encodeClaim(p.claim) } : {}),
    failureReason: ('reason' in vm ? vm.reason : undefined) ?? '',
    attempt: vm.core.attempt,
    excludedHosts: [...vm.core.excludedHosts],
    version: vm.version,
    explanationJson:
      vm.status === 'waiting-for-capacity'
        ? explanationJson(vm.explanation)
        : p?.explanation === undefined
          ? ''
          : explanationJson(p.explanation),
    requestedAt,
    updatedAt,
    migrationId: migrationOf(vm)?.migrationId ?? '',
    migratingToHostId: migrationOf(vm)?.destination.hostId ?? '',
    hypervisorUri: p?.hypervisorUri ?? '',
    capacityDeadline: vm.core.capacityDeadline ?? '',
    // Documents projected before projects existed have none: those VMs are in `default`.
    project: vm.core.project ?? 'default',
  };
}
