import { NotFoundError, ValidationError } from '@berth/errors';
import type { Folded } from '@berth/event-store';
import type { Vm } from '../domain/vm/state.ts';
import { vmRecordOf } from './streams.ts';

const VM_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export function checkVmId(vmId: string, field = 'vmId'): void {
  if (!VM_ID.test(vmId)) throw new ValidationError({ field, reason: `must be 1-128 of [A-Za-z0-9_.-], got '${vmId}'` });
}

export type ExistingVm = Exclude<Vm, { status: 'absent' }>;

/** A VM with the times of its first and last events. */
export interface VmView {
  readonly vm: ExistingVm;
  readonly requestedAt: string;
  readonly updatedAt: string;
}

/** The VM of a folded VM stream as the API shows it; NOT_FOUND when it does not exist. */
export function view(vmId: string, f: Folded | undefined): VmView {
  const r = vmRecordOf(f);
  if (r.vm.status === 'absent') throw new NotFoundError('vm', vmId);
  return { vm: r.vm, requestedAt: r.requestedAt, updatedAt: r.updatedAt };
}

/** The VM's placement moved between reading it and deciding: decide again with the new host. */
export class PlacementMoved extends Error {}
