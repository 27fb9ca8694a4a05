import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { unary, serverStream } from '@berth/grpc-kit';
import type { inventoryV1 as pb } from '@berth/contracts';
import type { HostCommands } from '../../application/hosts.ts';
import type { VmCommands } from '../../application/vms.ts';
import type { ProjectCommands } from '../../application/projects.ts';
import type { ReadModel } from '../postgres/read-model.ts';
import {
  abortVmMigration,
  beginVmMigration,
  claimResources,
  claimResourcesBatch,
  completeVmMigration,
  releaseClaim,
  reportPlacementFailed,
} from './claim-handlers.ts';
import {
  applyHardwareConfig,
  getHardwareConfig,
  getHost,
  listHosts,
  listHostSnapshots,
  registerHost,
  removeHost,
  setHostState,
  updateHost,
} from './host-handlers.ts';
import { projectHandlers } from './project-handlers.ts';
import { composeVm, deleteVm, getVm, listVms, rebootVm, startVm, stopVm, watchVm } from './vm-handlers.ts';

export { MAX_BATCH_CLAIMS } from './claim-handlers.ts';

export interface InventoryApp {
  readonly hosts: HostCommands;
  readonly vms: VmCommands;
  readonly projects: ProjectCommands;
  readonly readModel: ReadModel;
}

/**
 * The InventoryService: one named handler per RPC (`host-handlers.ts`, `vm-handlers.ts`,
 * `claim-handlers.ts`, `project-handlers.ts`), each decode -> application -> encode; errors map once
 * in grpc-kit.
 */
export function inventoryService(app: InventoryApp): UntypedServiceImplementation {
  const impl: Record<keyof pb.InventoryServiceServer, unknown> = {
    registerHost: unary((r: pb.RegisterHostRequest) => registerHost(app, r)),
    updateHost: unary((r: pb.UpdateHostRequest) => updateHost(app, r)),
    removeHost: unary((r: pb.RemoveHostRequest) => removeHost(app, r)),
    setHostState: unary((r: pb.SetHostStateRequest) => setHostState(app, r)),
    getHost: unary((r: pb.GetHostRequest) => getHost(app, r)),
    listHosts: unary((r: pb.ListHostsRequest) => listHosts(app, r)),
    listHostSnapshots: unary((_r: pb.ListHostSnapshotsRequest) => listHostSnapshots(app)),
    applyHardwareConfig: unary((r: pb.ApplyHardwareConfigRequest) => applyHardwareConfig(app, r)),
    getHardwareConfig: unary((_r: pb.GetHardwareConfigRequest) => getHardwareConfig(app)),
    composeVm: unary((r: pb.ComposeVmRequest, ctx) => composeVm(app, r, ctx)),
    getVm: unary((r: pb.GetVmRequest, ctx) => getVm(app, r, ctx)),
    listVms: unary((r: pb.ListVmsRequest, ctx) => listVms(app, r, ctx)),
    deleteVm: unary((r: pb.DeleteVmRequest, ctx) => deleteVm(app, r, ctx)),
    startVm: unary((r: pb.StartVmRequest, ctx) => startVm(app, r, ctx)),
    stopVm: unary((r: pb.StopVmRequest, ctx) => stopVm(app, r, ctx)),
    rebootVm: unary((r: pb.RebootVmRequest, ctx) => rebootVm(app, r, ctx)),
    watchVm: serverStream((r: pb.WatchVmRequest, ctx) => watchVm(app, r, ctx)),
    ...projectHandlers(app.projects, app.readModel),
    claimResources: unary((r: pb.ClaimResourcesRequest) => claimResources(app, r)),
    claimResourcesBatch: unary((r: pb.ClaimResourcesBatchRequest) => claimResourcesBatch(app, r)),
    releaseClaim: unary((r: pb.ReleaseClaimRequest) => releaseClaim(app, r)),
    reportPlacementFailed: unary((r: pb.ReportPlacementFailedRequest) => reportPlacementFailed(app, r)),
    beginVmMigration: unary((r: pb.BeginVmMigrationRequest) => beginVmMigration(app, r)),
    completeVmMigration: unary((r: pb.CompleteVmMigrationRequest) => completeVmMigration(app, r)),
    abortVmMigration: unary((r: pb.AbortVmMigrationRequest) => abortVmMigration(app, r)),
  };
  return impl as UntypedServiceImplementation;
}
