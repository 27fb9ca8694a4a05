import { inventoryV1, modelV1, schedulerV1 } from '@berth/contracts';
import { oneOf } from '../values.ts';
import { enumLabel } from './table.ts';

/** Enum values as operators type and read them (`no-scheduling`), both ways. */

export const HOST_STATES = ['enabled', 'no-scheduling', 'disabled', 'maintenance'] as const;
export const VM_STATUSES = [
  'requested',
  'placed',
  'provisioning',
  'running',
  'stopping',
  'stopped',
  'deleting',
  'deleted',
  'placement-failed',
  'provision-failed',
  'waiting-for-capacity',
] as const;
export const SLA_TIERS = ['platinum', 'gold', 'silver', 'vapor'] as const;
export const MIGRATION_MODES = ['none', 'manual', 'manual-and-automatic'] as const;

const constant = (prefix: string, label: string) => `${prefix}${label.toUpperCase().replace(/-/g, '_')}`;

export function parseHostState(text: string, field: string): modelV1.HostState {
  return modelV1.hostStateFromJSON(constant('HOST_STATE_', oneOf(text, field, HOST_STATES)));
}
export function parseVmStatus(text: string, field: string): inventoryV1.VmStatus {
  return inventoryV1.vmStatusFromJSON(constant('VM_STATUS_', oneOf(text, field, VM_STATUSES)));
}
export function parseSlaTier(text: string, field: string): modelV1.SlaTier {
  return modelV1.slaTierFromJSON(constant('SLA_TIER_', oneOf(text, field, SLA_TIERS)));
}
export function parseMigrationMode(text: string, field: string): modelV1.MigrationMode {
  return modelV1.migrationModeFromJSON(constant('MIGRATION_MODE_', oneOf(text, field, MIGRATION_MODES)));
}

export const hostStateLabel = (s: modelV1.HostState) => enumLabel(modelV1.hostStateToJSON(s), 'HOST_STATE_');
export const vmStatusLabel = (s: inventoryV1.VmStatus) => enumLabel(inventoryV1.vmStatusToJSON(s), 'VM_STATUS_');
export const slaTierLabel = (s: modelV1.SlaTier) => enumLabel(modelV1.slaTierToJSON(s), 'SLA_TIER_');
export const migrationModeLabel = (m: modelV1.MigrationMode) => enumLabel(modelV1.migrationModeToJSON(m), 'MIGRATION_MODE_');
export const outcomeLabel = (o: schedulerV1.DecisionOutcome) => enumLabel(schedulerV1.decisionOutcomeToJSON(o), 'DECISION_OUTCOME_');
