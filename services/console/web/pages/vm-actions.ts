import { VmStatus, type Vm } from '@berth/proto/berth/inventory/v1/vm.ts';
import { MigrationMode } from '@berth/proto/berth/model/v1/vm.ts';
import { vmStatus } from '../format.ts';

export type VmAction = 'start' | 'stop' | 'reboot' | 'delete';

/** Why an action cannot be taken on this VM now, or undefined when it can (inventory decides; this says why up front). */
export function whyNot(vm: Vm, action: VmAction): string | undefined {
  const s = vm.status;
  const now = `it is ${vmStatus(s)}`;
  if (s === VmStatus.VM_STATUS_DELETED || s === VmStatus.VM_STATUS_DELETING) return `${now}`;
  if (vm.migrationId) return `it is migrating (${vm.migrationId})`;
  switch (action) {
    case 'start':
      return s === VmStatus.VM_STATUS_STOPPED ? undefined : `only a stopped VM starts: ${now}`;
    case 'stop':
      return s === VmStatus.VM_STATUS_RUNNING ? undefined : `only a running VM stops: ${now}`;
    case 'reboot':
      return s === VmStatus.VM_STATUS_RUNNING ? undefined : `only a running VM reboots: ${now}`;
    case 'delete':
      return undefined;
  }
}

export function whyNotMigrate(vm: Vm, migrationAvailable: boolean): string | undefined {
  if (!migrationAvailable) return 'the console is not connected to the migration service';
  if (vm.spec?.migrationMode === MigrationMode.MIGRATION_MODE_NONE) return 'not migratable: mode none';
  if (vm.migrationId) return `already migrating (${vm.migrationId})`;
  if (vm.status !== VmStatus.VM_STATUS_RUNNING) return `only a running VM migrates: it is ${vmStatus(vm.status)}`;
  return undefined;
}
