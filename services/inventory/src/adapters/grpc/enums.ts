import { inventoryV1 as pb } from '@berth/contracts';
import { enumMap } from '@berth/model-codec';
import type { VmStatus } from '../../domain/vm/state.ts';

/** VM statuses are inventory's own (berth.inventory.v1); the shared enums are in @berth/model-codec. */
export const vmStatuses = enumMap<pb.VmStatus, VmStatus>([
  [pb.VmStatus.VM_STATUS_REQUESTED, 'requested'],
  [pb.VmStatus.VM_STATUS_PLACED, 'placed'],
  [pb.VmStatus.VM_STATUS_PROVISIONING, 'provisioning'],
  [pb.VmStatus.VM_STATUS_RUNNING, 'running'],
  [pb.VmStatus.VM_STATUS_STOPPING, 'stopping'],
  [pb.VmStatus.VM_STATUS_STOPPED, 'stopped'],
  [pb.VmStatus.VM_STATUS_DELETING, 'deleting'],
  [pb.VmStatus.VM_STATUS_DELETED, 'deleted'],
  [pb.VmStatus.VM_STATUS_PLACEMENT_FAILED, 'placement-failed'],
  [pb.VmStatus.VM_STATUS_PROVISION_FAILED, 'provision-failed'],
  [pb.VmStatus.VM_STATUS_WAITING_FOR_CAPACITY, 'waiting-for-capacity'],
]);
