import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { unary, serverStream } from '@berth/grpc-kit';
import type { inventoryV1 as pb } from '@berth/contracts';
import type { HostCommands } from '../../application/hosts.ts';
import type { VmCommands } from '../../application/vms.ts';
import type { ClaimCommands } from '../../application/claims.ts';
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
  readonly claims: ClaimCommands;
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
    registerHost: unary((r: pb.RegisterHostRequest, ctx) => registerHost(app, r, ctx)),
    updateHost: unary((r: pb.UpdateHostRequest, ctx) => updateHost(app, r, ctx)),
    removeHost: unary((r: pb.RemoveHostRequest, ctx) => removeHost(app, r, ctx)),
    setHostState: unary((r: pb.SetHostStateRequest, ctx) => setHostState(app, r, ctx)),
    getHost: unary((r: pb.GetHostRequest, ctx) => getHost(app, r, ctx)),
    listHosts: unary((r: pb.ListHostsRequest, ctx) => listHosts(app, r, ctx)),
    listHostSnapshots: unary((_r: pb.ListHostSnapshotsRequest, ctx) => listHostSnapshots(app, ctx)),
    applyHardwareConfig: unary((r: pb.ApplyHardwareConfigRequest, ctx) => applyHardwareConfig(app, r, ctx)),
    getHardwareConfig: unary((_r: pb.GetHardwareConfigRequest, ctx) => getHardwareConfig(app, ctx)),
    composeVm: unary((r: pb.ComposeVmRequest, ctx) => composeVm(app, r, ctx)),
    getVm: unary((r: pb.GetVmRequest, ctx) => getVm(app, r, ctx)),
    listVms: unary((r: pb.ListVmsRequest, ctx) => listVms(app, r, ctx)),
    deleteVm: unary((r: pb.DeleteVmRequest, ctx) => deleteVm(app, r, ctx)),
    startVm: unary((r: pb.StartVmRequest, ctx) => startVm(app, r, ctx)),
    stopVm: unary((r: pb.StopVmRequest, ctx) => stopVm(app, r, ctx)),
    rebootVm: unary((r: pb.RebootVmRequest, ctx) => rebootVm(app, r, ctx)),
    watchVm: serverStream((r: pb.WatchVmRequest, ctx) => watchVm(app, r, ctx)),
    ...projectHandlers(app.projects, app.readModel),
    claimResources: unary((r: pb.ClaimResourcesRequest, ctx) => claimResources(app, r, ctx)),
    claimResourcesBatch: unary((r: pb.ClaimResourcesBatchRequest, ctx) => claimResourcesBatch(app, r, ctx)),
    releaseClaim: unary((r: pb.ReleaseClaimRequest, ctx) => releaseClaim(app, r, ctx)),
    reportPlacementFailed: unary((r: pb.ReportPlacementFailedRequest, ctx) => reportPlacementFailed(app, r, ctx)),
    beginVmMigration: unary((r: pb.BeginVmMigrationRequest, ctx) => beginVmMigration(app, r, ctx)),
    completeVmMigration: unary((r: pb.CompleteVmMigrationRequest, ctx) => completeVmMigration(app, r, ctx)),
    abortVmMigration: unary((r: pb.AbortVmMigrationRequest, ctx) => abortVmMigration(app, r, ctx)),
  };
  return impl as UntypedServiceImplementation;
}
