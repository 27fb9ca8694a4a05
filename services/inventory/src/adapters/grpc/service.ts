import { setTimeout as sleep } from 'node:timers/promises';
import type { UntypedServiceImplementation } from '@grpc/grpc-js';
import { ValidationError } from '@berth/errors';
import { GrpcStatus, knownStatusOf, unary, serverStream } from '@berth/grpc-kit';
import { inventoryV1 as pb } from '@berth/contracts';
import type { HostCommands } from '../../application/hosts.ts';
import type { VmCommands } from '../../application/vms.ts';
import type { ReadModel } from '../postgres/read-model.ts';
import { decodeClaim, decodeHardwareConfig, decodeHostSpec, decodeVmSpec, encodeHardwareConfig, hostStates } from '@berth/model-codec';
import { vmStatuses } from './enums.ts';
import { encodeHost, encodeSnapshot } from './host-codec.ts';
import { encodeVm } from './vm-codec.ts';
import type { ProjectCommands } from '../../application/projects.ts';
import { scopeOf } from './caller.ts';
import { projectHandlers } from './project-handlers.ts';

export interface InventoryApp {
  readonly hosts: HostCommands;
  readonly vms: VmCommands;
  readonly projects: ProjectCommands;
  readonly readModel: ReadModel;
}

/** Every mutating call names its command, so a retry appends nothing new. */
function commandId(meta: pb.CommandMeta | undefined): string {
  const id = meta?.commandId ?? '';
  if (id.trim() === '' || id.length > 200)
    throw new ValidationError({ field: 'meta.commandId', reason: 'required (1-200 characters, a UUID recommended)' });
  return id;
}

function json(text: string, field: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError({ field, reason: 'must be JSON' });
  }
}

function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new ValidationError({ field, reason: 'required' });
  return value;
}

/** The scheduler view's log position, both parts or neither. */
function viewPositionOf(r: pb.ReportPlacementFailedRequest): { viewPosition?: { transactionId: string; position: string } } {
  const t = r.viewTransactionId ?? '';
  const p = r.viewPosition ?? '';
  if (t === '' && p === '') return {};
  const digits = /^\d{1,20}$/;
  if (!digits.test(t))
    throw new ValidationError({ field: 'viewTransactionId', reason: `must be a decimal transaction id with viewPosition, got '${t}'` });
  if (!digits.test(p))
    throw new ValidationError({ field: 'viewPosition', reason: `must be a decimal log position with viewTransactionId, got '${p}'` });
  return { viewPosition: { transactionId: t, position: p } };
}

const WATCH_POLL_MILLIS = 200;

/** Claims per ClaimResourcesBatch call. */
export const MAX_BATCH_CLAIMS = 1000;

/** Thin handlers: decode -> application -> encode; errors map once in grpc-kit. */
export function inventoryService(app: InventoryApp): UntypedServiceImplementation {
  const { hosts, vms, projects, readModel } = app;
  const claim = (r: pb.ClaimResourcesRequest) =>
    vms.claim({
      commandId: commandId(r.meta),
      vmId: r.vmId,
      hostId: r.hostId,
      expectedGeneration: r.expectedGeneration,
      claim: decodeClaim(required(r.claim, 'claim')),
      explanation: json(r.explanationJson, 'explanationJson'),
      alternates: r.alternates.map((a) => ({ hostId: a.hostId, generation: a.generation })),
    });
  const impl: Record<keyof pb.InventoryServiceServer, unknown> = {
    registerHost: unary<pb.RegisterHostRequest, pb.RegisterHostResponse>(async (r) => {
      const state = hostStates.decode(r.state, 'state');
      const host = await hosts.register({
        commandId: commandId(r.meta),
        hostId: r.hostId,
        spec: decodeHostSpec(required(r.spec, 'spec')),
        ...(state ? { state } : {}),
      });
      return { host: encodeHost(host) };
    }),
    updateHost: unary<pb.UpdateHostRequest, pb.UpdateHostResponse>(async (r) => {
      const host = await hosts.update({
        commandId: commandId(r.meta),
        hostId: r.hostId,
        spec: decodeHostSpec(required(r.spec, 'spec')),
        ...(r.expectedGeneration === undefined ? {} : { expectedGeneration: r.expectedGeneration }),
      });
      return { host: encodeHost(host) };
    }),
    removeHost: unary<pb.RemoveHostRequest, pb.RemoveHostResponse>(async (r) => {
      await hosts.remove({ commandId: commandId(r.meta), hostId: r.hostId, reason: 'removed by operator' });
      return {};
    }),
    setHostState: unary<pb.SetHostStateRequest, pb.SetHostStateResponse>(async (r) => {
      const state = required(hostStates.decode(r.state, 'state'), 'state');
      return { host: encodeHost(await hosts.setState({ commandId: commandId(r.meta), hostId: r.hostId, state, reason: r.reason })) };
    }),
    getHost: unary<pb.GetHostRequest, pb.GetHostResponse>(async (r) => ({ host: encodeHost(await hosts.get(r.hostId)) })),
    listHosts: unary<pb.ListHostsRequest, pb.ListHostsResponse>(async (r) => {
      const state = hostStates.decode(r.state, 'state');
      const list = await readModel.listHosts({ ...(state ? { state } : {}), resourcePool: r.resourcePool, tag: r.tag });
      return { hosts: list.flatMap((h) => (h.status === 'active' ? [encodeHost(h)] : [])) };
    }),
    listHostSnapshots: unary<pb.ListHostSnapshotsRequest, pb.ListHostSnapshotsResponse>(async () => {
      const list = await readModel.listHosts({});
      return { snapshots: list.flatMap((h) => (h.status === 'active' ? [encodeSnapshot(h)] : [])) };
    }),
    applyHardwareConfig: unary<pb.ApplyHardwareConfigRequest, pb.ApplyHardwareConfigResponse>(async (r) => {
      const id = commandId(r.meta);
      const version = await hosts.applyHardwareConfig({
        commandId: id,
        config: decodeHardwareConfig(required(r.config, 'config')),
        source: r.source,
      });
      return { version };
    }),
    getHardwareConfig: unary<pb.GetHardwareConfigRequest, pb.GetHardwareConfigResponse>(async () => {
      const { config, version } = await hosts.hardwareConfig();
      return { config: encodeHardwareConfig(config), version };
    }),
    composeVm: unary<pb.ComposeVmRequest, pb.ComposeVmResponse>(async (r, ctx) => {
      const id = commandId(r.meta);
      const wait = r.waitForCapacityMillis;
      return {
        vm: encodeVm(
          await vms.compose({
            commandId: id,
            vmId: r.vmId,
            project: r.project ?? '',
            scope: scopeOf(ctx),
            spec: decodeVmSpec(required(r.spec, 'spec')),
            ...(wait !== undefined ? { waitForCapacityMillis: wait } : {}),
          }),
        ),
      };
    }),
    getVm: unary<pb.GetVmRequest, pb.GetVmResponse>(async (r, ctx) => ({ vm: encodeVm(await vms.get(r.vmId, scopeOf(ctx))) })),
    listVms: unary<pb.ListVmsRequest, pb.ListVmsResponse>(async (r, ctx) => {
      const status = vmStatuses.decode(r.status, 'status');
      const visible = await vms.visibleProjects(scopeOf(ctx));
      const list = await readModel.listVms({
        hostId: r.hostId,
        ...(r.project ? { project: r.project } : {}),
        ...(status ? { status } : {}),
        ...(visible ? { projects: visible } : {}),
      });
      return { vms: list.flatMap((v) => (v.vm.status === 'absent' ? [] : [encodeVm({ ...v, vm: v.vm })])) };
    }),
    deleteVm: unary<pb.DeleteVmRequest, pb.DeleteVmResponse>(async (r, ctx) => ({
      vm: encodeVm(await vms.delete({ commandId: commandId(r.meta), vmId: r.vmId, scope: scopeOf(ctx) })),
    })),
    startVm: unary<pb.StartVmRequest, pb.StartVmResponse>(async (r, ctx) => ({
      vm: encodeVm(await vms.start({ commandId: commandId(r.meta), vmId: r.vmId, scope: scopeOf(ctx) })),
    })),
    stopVm: unary<pb.StopVmRequest, pb.StopVmResponse>(async (r, ctx) => ({
      vm: encodeVm(await vms.stop({ commandId: commandId(r.meta), vmId: r.vmId, force: r.force, scope: scopeOf(ctx) })),
    })),
    rebootVm: unary<pb.RebootVmRequest, pb.RebootVmResponse>(async (r, ctx) => ({
      vm: encodeVm(await vms.reboot({ commandId: commandId(r.meta), vmId: r.vmId, scope: scopeOf(ctx) })),
    })),
    watchVm: serverStream<pb.WatchVmRequest, pb.WatchVmResponse>(async function* (r, ctx) {
      await vms.get(r.vmId, scopeOf(ctx)); // NOT_FOUND (also another project's VM) before streaming anything
      let position = Math.max(0, r.fromPosition);
      while (!ctx.signal.aborted) {
        for (const { event, vm } of await vms.eventsAfter(r.vmId, position)) {
          position = event.streamPosition;
          if (vm.status === 'absent') continue;
          const v = encodeVm({ vm, requestedAt: '', updatedAt: event.occurredAt });
          yield {
            event: {
              eventId: event.id,
              type: event.type,
              streamPosition: event.streamPosition,
              occurredAt: event.occurredAt,
              dataJson: JSON.stringify(event.data),
              vm: v,
            },
          };
          if (vm.status === 'deleted') return;
        }
        await sleep(WATCH_POLL_MILLIS, undefined, { signal: ctx.signal }).catch(() => undefined);
      }
    }),
    ...projectHandlers(projects, readModel),
    claimResources: unary<pb.ClaimResourcesRequest, pb.ClaimResourcesResponse>(async (r) => {
      const result = await claim(r);
      return { generation: result.generation, vm: encodeVm(result.vm) };
    }),
    claimResourcesBatch: unary<pb.ClaimResourcesBatchRequest, pb.ClaimResourcesBatchResponse>(async (r) => {
      if (r.claims.length > MAX_BATCH_CLAIMS)
        throw new ValidationError({ field: 'claims', reason: `at most ${MAX_BATCH_CLAIMS} per call, got ${r.claims.length}` });
      // All in flight at once: inventory's batcher commits them together, each on its own.
      const results = await Promise.all(
        r.claims.map(async (c): Promise<pb.ClaimResult> => {
          try {
            return { code: GrpcStatus.OK, message: '', generation: (await claim(c)).generation, fieldViolations: [] };
          } catch (e) {
            const known = knownStatusOf(e);
            if (known === undefined) throw e; // unexpected: the whole call fails as INTERNAL, logged
            return {
              code: known.code,
              message: known.details,
              generation: 0,
              fieldViolations: known.violations.map((v) => ({ field: v.field, reason: v.reason })),
            };
          }
        }),
      );
      return { results };
    }),
    releaseClaim: unary<pb.ReleaseClaimRequest, pb.ReleaseClaimResponse>(async (r) => ({
      generation: await vms.releaseClaim({ commandId: commandId(r.meta), vmId: r.vmId, hostId: r.hostId, reason: r.reason || 'released' }),
    })),
    reportPlacementFailed: unary<pb.ReportPlacementFailedRequest, pb.ReportPlacementFailedResponse>(async (r) => {
      const view = await vms.reportPlacementFailed({
        commandId: commandId(r.meta),
        vmId: r.vmId,
        reason: r.reason || 'no host fits',
        explanation: json(r.explanationJson, 'explanationJson'),
        ...viewPositionOf(r),
      });
      return { vm: encodeVm(view) };
    }),
    beginVmMigration: unary<pb.BeginVmMigrationRequest, pb.BeginVmMigrationResponse>(async (r) => {
      const result = await vms.beginMigration({
        commandId: commandId(r.meta),
        vmId: r.vmId,
        migrationId: r.migrationId,
        hostId: r.hostId,
        expectedGeneration: r.expectedGeneration,
        claim: decodeClaim(required(r.claim, 'claim')),
        automatic: r.automatic,
      });
      return { generation: result.generation, hypervisorUri: result.hypervisorUri, vm: encodeVm(result.vm) };
    }),
    completeVmMigration: unary<pb.CompleteVmMigrationRequest, pb.CompleteVmMigrationResponse>(async (r) => ({
      vm: encodeVm(await vms.completeMigration({ commandId: commandId(r.meta), vmId: r.vmId, migrationId: r.migrationId })),
    })),
    abortVmMigration: unary<pb.AbortVmMigrationRequest, pb.AbortVmMigrationResponse>(async (r) => ({
      vm: encodeVm(
        await vms.abortMigration({ commandId: commandId(r.meta), vmId: r.vmId, migrationId: r.migrationId, reason: r.reason || 'aborted' }),
      ),
    })),
  };
  return impl as UntypedServiceImplementation;
}
