import { isInventoryEvent, type EventEnvelope, type inventoryEvents } from '@berth/contracts';
import { ack, type ConsumeResult } from '@berth/messaging';
import { domainName, domainUuid, type RealmSettings } from '@berth/hypervisor';
import type { Location, VmOperation, VmRef } from '../domain/vm/events.ts';
import type { Provisioner } from './provisioner.ts';
import type { Vms } from './vms.ts';

export interface HostRegistry {
  upsertHost(hostId: string, uri: string, removed: boolean): Promise<void>;
  markHostRemoved(hostId: string): Promise<void>;
}

export interface IntakeOptions {
  readonly vms: Vms;
  readonly provisioner: Provisioner;
  readonly hosts: HostRegistry;
  readonly realm: RealmSettings;
  readonly clock?: () => Date;
}

const OPERATIONS: Readonly<Record<string, VmOperation>> = {
  VmStartRequested: 'start',
  VmStopRequested: 'stop',
  VmRebootRequested: 'reboot',
  VmDeleteRequested: 'delete',
};

/** The inventory VM events the intake acts on (the consumer acknowledges the others unread). */
export const INTAKE_VM_TYPES: readonly string[] = ['VmPlaced', ...Object.keys(OPERATIONS)];
/** The inventory host events the host registry acts on. */
export const INTAKE_HOST_TYPES: readonly string[] = ['HostRegistered', 'HostUpdated', 'HostRemoved'];

async function nextAttempt(vms: Vms, vmId: string): Promise<number> {
  const current = await vms.load(vmId);
  return current.status === 'unknown' ? 1 : (current.location.attempt ?? 0) + 1;
}

const vmIdOf = (env: EventEnvelope): string => env.streamId.replace(/^vm-/, '');
const hostIdOf = (env: EventEnvelope): string => env.streamId.replace(/^host-/, '');

/**
 * Turns inventory's events into commands on the executor's own log, then acks. The inventory event
 * id is the command id, so a redelivered message appends nothing. The hypervisor work itself runs
 * in the Provisioner, from the log, so the consumer never blocks on a slow host.
 */
export function createIntake(o: IntakeOptions): {
  vm(env: EventEnvelope): Promise<ConsumeResult>;
  host(env: EventEnvelope): Promise<ConsumeResult>;
} {
  const clock = o.clock ?? (() => new Date());
  return {
    async vm(env) {
      const vmId = vmIdOf(env);
      if (isInventoryEvent(env, 'VmPlaced')) {
        // The consumer's edge checked the data against VmPlaced's schema (claim, host, spec required).
        const d = env.data;
        // Without inventory's attempt, each placement after a failure is the next one.
        const attempt = d.attempt ?? (await nextAttempt(o.vms, vmId));
        const location: Location = { vmId, hostId: d.hostId, hypervisorUri: d.hypervisorUri, attempt };
        await o.vms.execute(
          vmId,
          {
            type: 'Provision',
            location,
            request: {
              name: d.spec.name,
              claim: d.claim,
              passthroughCpu: d.spec.passthroughCpu,
              // A virtio NIC joins the libvirt network named after its space (`default` without one).
              networks: d.spec.nics.filter((n) => !n.sriov).map((n) => n.network?.space ?? 'default'),
              ...(d.spec.hugepageSizeBytes !== undefined ? { hugepageSizeBytes: d.spec.hugepageSizeBytes } : {}),
              ...(d.spec.topology !== undefined ? { topology: d.spec.topology } : {}),
            },
            domainName: domainName(vmId),
            domainUuid: domainUuid(vmId),
            registrationDeadline: new Date(clock().getTime() + o.realm.registrationTimeoutMillis).toISOString(),
          },
          env.id,
        );
        o.provisioner.kick(vmId);
        return ack();
      }
      const operation = OPERATIONS[env.type];
      if (operation === undefined) return ack();
      const d: Partial<inventoryEvents.VmLocation> =
        isInventoryEvent(env, 'VmStartRequested') ||
        isInventoryEvent(env, 'VmStopRequested') ||
        isInventoryEvent(env, 'VmRebootRequested') ||
        isInventoryEvent(env, 'VmDeleteRequested')
          ? env.data
          : {};
      const force = isInventoryEvent(env, 'VmStopRequested') && env.data.force;
      const location: VmRef = {
        vmId,
        ...(d.hostId !== undefined && { hostId: d.hostId }),
        ...(d.hypervisorUri !== undefined && { hypervisorUri: d.hypervisorUri }),
      };
      await o.vms.execute(
        vmId,
        { type: 'RequestOperation', location, operation, force: operation === 'delete' || force, requestId: env.id },
        env.id,
      );
      o.provisioner.kick(vmId);
      return ack();
    },

    async host(env) {
      const hostId = hostIdOf(env);
      switch (env.type) {
        case 'HostRegistered':
        case 'HostUpdated': {
          if (!isInventoryEvent(env, 'HostRegistered') && !isInventoryEvent(env, 'HostUpdated')) return ack();
          await o.hosts.upsertHost(hostId, env.data.hypervisorUri, false);
          return ack();
        }
        case 'HostRemoved':
          await o.hosts.markHostRemoved(hostId);
          return ack();
        default:
          return ack();
      }
    },
  };
}
