import type { DomainSpec, HypervisorDriver } from '@berth/hypervisor';
import type { Logger } from '@berth/observability';
import type { MigrationWork } from '../domain/vm/state.ts';
import { destinationSpec, type Migrating, type SpecOf } from './migration-hypervisors.ts';
import type { Vms } from './vms.ts';

export interface ColdMoveOptions {
  readonly vms: Vms;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly logger: Logger;
  readonly specOf: SpecOf;
  readonly sharedStorage: boolean;
  /** A second look, after a pause, that neither host has the domain (false: something changed, or stopping). */
  readonly stillNeither: (vmId: string, sourceUri: string, destinationUri: string) => Promise<boolean>;
}

/**
 * A cold move of a stopped VM: without shared storage its disks are copied to the destination
 * first (into the destination claim's pools); then the definition, built from the destination's
 * claim, is created there, then removed from the source (with its volumes, unless they are shared),
 * then recorded. Each step looks first or overwrites, so running it again after a crash at any
 * point finishes the move; at no point is the VM defined nowhere, and the source's disks go only
 * once the destination has its copy and its definition.
 */
export async function coldMove(o: ColdMoveOptions, vmId: string, state: Migrating, work: MigrationWork): Promise<void> {
  const source = o.driverFor(state.location.hypervisorUri);
  const dest = o.driverFor(work.destination.uri);
  const fail = (reason: string, cause: 'cancelled' | 'error'): Promise<unknown> =>
    o.vms.execute(vmId, { type: 'FailMigration', migrationId: work.migrationId, reason, cause });
  const [src, dst] = await Promise.all([source.state(vmId), dest.state(vmId)]);
  const up = (s: string | undefined): boolean => s === 'running' || s === 'blocked' || s === 'paused';
  if (work.cancel !== null && dst === undefined) {
    await fail(`${work.cancel}; cancelled, the VM stays on ${state.location.hostId}`, 'cancelled');
    return;
  }
  if (up(src) || up(dst)) {
    await fail(`a cold move needs the VM stopped, and it runs on ${up(src) ? state.location.hostId : work.destination.hostId}`, 'error');
    return;
  }
  if (dst === undefined) {
    const spec = destinationSpec(o.specOf, vmId, state, work);
    if ('refused' in spec) {
      await fail(spec.refused, 'error');
      return;
    }
    // Defined on neither host (both lost it): the log has the definition, so the move ends by
    // defining it on the destination, after a second look that it is really gone from both.
    if (src === undefined && !(await o.stillNeither(vmId, state.location.hypervisorUri, work.destination.uri))) {
      throw new Error(`cold move of ${vmId}: the hosts changed while looking; asking again later`);
    }
    // Copied while the source still has the domain (and so its disks); a copy cut short is done again.
    if (!o.sharedStorage && src !== undefined) await copyDisks(o, vmId, state, work, source, spec);
    await dest.define(spec);
  }
  if (src !== undefined) await source.undefine(vmId, { keepVolumes: o.sharedStorage });
  await o.vms.execute(vmId, { type: 'CompleteMigration', migrationId: work.migrationId, confirmedBy: 'migrate-call' });
}

/**
 * The stopped VM's disks to the destination, from the pools of the VM's claim here into those of
 * the destination's; a driver that cannot copy fails the move, saying why.
 */
async function copyDisks(
  o: ColdMoveOptions,
  vmId: string,
  state: Migrating,
  work: MigrationWork,
  source: HypervisorDriver,
  destination: DomainSpec,
): Promise<void> {
  const here = o.specOf(vmId, state);
  if (here.volumes.length === 0) return;
  if (!source.capabilities.volumeCopy) {
    throw new Error(
      `cold move of ${vmId}: ${state.location.hostId}'s hypervisor cannot copy disks and storage is not shared (EXECUTOR_SHARED_STORAGE=off)`,
    );
  }
  o.logger.info({ vmId, to: work.destination.hostId, volumes: here.volumes.length }, 'cold move: copying the disks');
  await source.copyVolumes(here, { destinationUri: work.destination.uri, destinationVolumes: destination.volumes });
}
