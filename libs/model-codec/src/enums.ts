import { ValidationError } from '@berth/errors';
import { inventoryV1, modelV1 as pb } from '@berth/contracts';
import type { AffinityRule, HostState, MigrationMode, SlaTier, VmSpec } from '@berth/fit';

/** A two-way map between a proto enum and domain strings; UNSPECIFIED (0) decodes to undefined. */
export interface EnumMap<P extends number, D extends string> {
  /** Throws a ValidationError naming `field` for a number the enum does not have. */
  decode(value: number, field: string): D | undefined;
  /**
   * The domain string of a value this side knows, else undefined: for reading another service's
   * answer, where a value newer than this build is no input error (UNSPECIFIED is undefined too).
   */
  lookup(value: number): D | undefined;
  encode(d: D): P;
}

export function enumMap<P extends number, D extends string>(pairs: readonly (readonly [P, D])[]): EnumMap<P, D> {
  const toDomain = new Map<number, D>(pairs);
  const toProto = new Map<D, P>(pairs.map(([p, d]) => [d, p]));
  return {
    decode(value: number, field: string): D | undefined {
      if (value === 0) return undefined;
      const d = toDomain.get(value);
      if (d === undefined) throw new ValidationError({ field, reason: `unknown enum value ${value}` });
      return d;
    },
    lookup: (value: number): D | undefined => toDomain.get(value),
    encode: (d: D): P => toProto.get(d)!,
  };
}

export const hostStates = enumMap<pb.HostState, HostState>([
  [pb.HostState.HOST_STATE_ENABLED, 'enabled'],
  [pb.HostState.HOST_STATE_NO_SCHEDULING, 'no-scheduling'],
  [pb.HostState.HOST_STATE_DISABLED, 'disabled'],
  [pb.HostState.HOST_STATE_MAINTENANCE_PREPARING, 'maintenance-preparing'],
  [pb.HostState.HOST_STATE_MAINTENANCE, 'maintenance'],
]);

export const slaTiers = enumMap<pb.SlaTier, SlaTier>([
  [pb.SlaTier.SLA_TIER_PLATINUM, 'platinum'],
  [pb.SlaTier.SLA_TIER_GOLD, 'gold'],
  [pb.SlaTier.SLA_TIER_SILVER, 'silver'],
  [pb.SlaTier.SLA_TIER_VAPOR, 'vapor'],
]);

export const migrationModes = enumMap<pb.MigrationMode, MigrationMode>([
  [pb.MigrationMode.MIGRATION_MODE_NONE, 'none'],
  [pb.MigrationMode.MIGRATION_MODE_MANUAL, 'manual'],
  [pb.MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC, 'manual-and-automatic'],
]);

export const cpuPolicies = enumMap<pb.CpuPolicy, VmSpec['cpuPolicy']>([
  [pb.CpuPolicy.CPU_POLICY_SHARED, 'shared'],
  [pb.CpuPolicy.CPU_POLICY_DEDICATED, 'dedicated'],
]);

export const polarities = enumMap<pb.AffinityPolarity, AffinityRule['polarity']>([
  [pb.AffinityPolarity.AFFINITY_POLARITY_AFFINITY, 'affinity'],
  [pb.AffinityPolarity.AFFINITY_POLARITY_ANTI_AFFINITY, 'anti-affinity'],
]);

export const targets = enumMap<pb.AffinityTarget, AffinityRule['target']>([
  [pb.AffinityTarget.AFFINITY_TARGET_VM, 'vm'],
  [pb.AffinityTarget.AFFINITY_TARGET_HOST, 'host'],
]);

export const enforcements = enumMap<pb.AffinityEnforcement, AffinityRule['enforcement']>([
  [pb.AffinityEnforcement.AFFINITY_ENFORCEMENT_HARD, 'hard'],
  [pb.AffinityEnforcement.AFFINITY_ENFORCEMENT_SOFT, 'soft'],
]);

/** A VM's status on the wire (berth.inventory.v1.VmStatus): inventory's, read by migration and the CLI. */
export type VmStatusName =
  | 'requested'
  | 'placed'
  | 'provisioning'
  | 'running'
  | 'stopping'
  | 'stopped'
  | 'deleting'
  | 'deleted'
  | 'placement-failed'
  | 'provision-failed'
  | 'waiting-for-capacity';

export const vmStatuses = enumMap<inventoryV1.VmStatus, VmStatusName>([
  [inventoryV1.VmStatus.VM_STATUS_REQUESTED, 'requested'],
  [inventoryV1.VmStatus.VM_STATUS_PLACED, 'placed'],
  [inventoryV1.VmStatus.VM_STATUS_PROVISIONING, 'provisioning'],
  [inventoryV1.VmStatus.VM_STATUS_RUNNING, 'running'],
  [inventoryV1.VmStatus.VM_STATUS_STOPPING, 'stopping'],
  [inventoryV1.VmStatus.VM_STATUS_STOPPED, 'stopped'],
  [inventoryV1.VmStatus.VM_STATUS_DELETING, 'deleting'],
  [inventoryV1.VmStatus.VM_STATUS_DELETED, 'deleted'],
  [inventoryV1.VmStatus.VM_STATUS_PLACEMENT_FAILED, 'placement-failed'],
  [inventoryV1.VmStatus.VM_STATUS_PROVISION_FAILED, 'provision-failed'],
  [inventoryV1.VmStatus.VM_STATUS_WAITING_FOR_CAPACITY, 'waiting-for-capacity'],
]);
