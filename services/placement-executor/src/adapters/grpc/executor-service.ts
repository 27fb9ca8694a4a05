import { executorV1 } from '@berth/contracts';
import { NotFoundError, ValidationError } from '@berth/errors';
import { unary, type ServiceRegistration } from '@berth/grpc-kit';
import { domainName, domainUuid, type HypervisorDriver } from '@berth/hypervisor';
import type { Reconciler } from '../../application/reconciler.ts';
import type { Vms } from '../../application/vms.ts';

export interface ExecutorServiceDeps {
  readonly vms: Vms;
  readonly hosts: () => Promise<Map<string, string>>;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly reconciler: Reconciler;
}

const required = (value: string, field: string): string => {
  if (value.trim() === '') throw new ValidationError({ field, reason: 'is required' });
  return value;
};

/** Thin transport: decode, ask the application or the host's driver, encode. */
export function executorService(d: ExecutorServiceDeps): ServiceRegistration {
  const implementation: executorV1.ExecutorServiceServer = {
    listDomains: unary(async (req: executorV1.ListDomainsRequest): Promise<executorV1.ListDomainsResponse> => {
      const hostId = required(req.hostId, 'host_id');
      const uri = (await d.hosts()).get(hostId);
      if (uri === undefined) throw new NotFoundError('host', hostId);
      const domains = await d.driverFor(uri).listDomains();
      return { hostId, hypervisorUri: uri, domains: domains.map((x) => ({ name: x.name, state: x.state, vmId: x.vmId ?? '' })) };
    }),
    getVmRuntime: unary(async (req: executorV1.GetVmRuntimeRequest, ctx): Promise<executorV1.GetVmRuntimeResponse> => {
      const vmId = required(req.vmId, 'vm_id');
      const s = await d.vms.load(vmId, ctx);
      if (s.status === 'unknown') throw new NotFoundError('vm', vmId);
      const base = {
        vmId,
        status: s.status,
        // proto3 defaults where a VM deleted before it was provisioned here has no location.
        hostId: s.location.hostId ?? '',
        hypervisorUri: s.location.hypervisorUri ?? '',
        attempt: s.location.attempt ?? 0,
        step: s.status === 'provisioning' ? s.step : '',
        // Name and UUID are derived from the VM id (a retry never makes a second domain), so every state has them.
        domainName: s.status === 'provisioning' ? s.domain.name : domainName(vmId),
        domainUuid: s.status === 'provisioning' ? s.domain.uuid : domainUuid(vmId),
        pendingOperation: 'pending' in s && s.pending ? s.pending.operation : '',
        failureReason: s.status === 'failed' ? s.reason : '',
        domainState: '',
        migrationId: 'migration' in s && s.migration ? s.migration.migrationId : '',
        migrationAttempt: 'migration' in s && s.migration ? s.migration.attempt : 0,
      };
      if (s.status === 'deleted' || s.status === 'failed') return base;
      const driver = d.driverFor(s.location.hypervisorUri);
      // The live view is best effort: an unreachable host still leaves the log's answer.
      const state = await driver.state(vmId).catch(() => undefined);
      if (state === undefined) return base;
      const mem = state === 'running' ? await driver.memoryStats(vmId).catch(() => undefined) : undefined;
      return {
        ...base,
        domainState: state,
        ...(mem
          ? {
              memory: {
                actualBytes: mem.actualBytes,
                rssBytes: mem.rssBytes ?? 0,
                availableBytes: mem.availableBytes ?? 0,
                unusedBytes: mem.unusedBytes ?? 0,
                usableBytes: mem.usableBytes ?? 0,
              },
            }
          : {}),
      };
    }),
    reconcile: unary(async (): Promise<executorV1.ReconcileResponse> => {
      const r = await d.reconciler.reconcileOnce();
      return { hosts: r.hosts, unreachableHosts: [...r.unreachable], drifts: r.drifts, unknownDomains: r.unknown };
    }),
  };
  return { definition: executorV1.ExecutorServiceService, implementation };
}
