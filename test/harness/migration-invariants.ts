/**
 * The crash-safety invariants of live migration (issue 12), checked from every record the plane has:
 * after the crashes every VM runs on exactly one host (a stopped one is defined on exactly one), its claims match where it runs (no leaked
 * destination claim, no released claim of a running domain), no domain runs twice and none is lost.
 *
 * Sources, each asked on its own (none is trusted to stand for another):
 * - inventory's read model: `GetVm` (running, not moving) and `GetHost` claims of every host;
 * - inventory's log (its Postgres events): the hosts' claims (ResourcesClaimed / ClaimReleased) and the
 *   VM streams' location (VmPlaced, VmMigrationStarted, VmMigrated, VmMigrationAborted), folded;
 * - the migration service's log: every migration stream ended once, and every attempt that took a
 *   destination claim gave it back (DestinationReleased) unless it completed (SourceReleased);
 * - the executor (`GetVmRuntime`: its log and its hypervisor's view);
 * - the hypervisors themselves: every host's domains listed on the simulator daemon.
 *
 *   const problems = await fleetViolations(probe, vmIds);   // [] when every invariant holds
 */
import { inventoryV1 } from '@berth/contracts';
import { byStream, readEventLog, type LoggedEvent } from './event-log.ts';

/** What the check reads; the crash stacks provide it. */
export interface FleetProbe {
  readonly hosts: readonly string[];
  readonly dbs: { readonly inventory: { readonly url: string }; readonly migration: { readonly url: string } };
  getVm(vmId: string): Promise<inventoryV1.Vm>;
  claimsOf(hostId: string): Promise<string[]>;
  /** The executor's record of the VM. */
  runtime(vmId: string): Promise<{ status: string; hostId: string; migrationId: string }>;
  /** Every domain a host's hypervisor has (by VM id), with its state. */
  hostDomains(hostId: string): Promise<{ vmId: string; state: string }[]>;
}

const TERMINAL = new Set(['MigrationCompleted', 'MigrationFailed', 'MigrationAborted']);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');

interface Folded {
  /** Host -> VM ids claimed there, as inventory's log has it. */
  readonly claims: Map<string, Set<string>>;
  /** VM -> where inventory's log has it, and the migration it has under way ('' when none). */
  readonly vms: Map<string, { hostId: string; moving: string }>;
}

/** Inventory's log folded to claims per host and location per VM. */
export function foldInventoryLog(events: readonly LoggedEvent[]): Folded {
  const claims = new Map<string, Set<string>>();
  const vms = new Map<string, { hostId: string; moving: string }>();
  for (const [streamId, stream] of byStream(events)) {
    if (streamId.startsWith('host-')) {
      const set = new Set<string>();
      for (const e of stream) {
        if (e.type === 'ResourcesClaimed') set.add(str((e.data['claim'] as Record<string, unknown> | undefined)?.['vmId']));
        if (e.type === 'ClaimReleased') set.delete(str(e.data['vmId']));
      }
      claims.set(streamId.slice('host-'.length), set);
    } else if (streamId.startsWith('vm-')) {
      let hostId = '';
      let moving = '';
      for (const e of stream) {
        if (e.type === 'VmPlaced') hostId = str(e.data['hostId']);
        if (e.type === 'VmMigrationStarted') moving = str(e.data['migrationId']);
        if (e.type === 'VmMigrated') [hostId, moving] = [str(e.data['hostId']), ''];
        if (e.type === 'VmMigrationAborted') moving = '';
        if (e.type === 'VmDeleted') hostId = '';
      }
      vms.set(streamId.slice('vm-'.length), { hostId, moving });
    }
  }
  return { claims, vms };
}

/** What is wrong with the migration service's log: a migration not ended (or ended twice), a claim never given back. */
export function migrationLogViolations(events: readonly LoggedEvent[]): string[] {
  const out: string[] = [];
  for (const [streamId, stream] of byStream(events)) {
    if (!streamId.startsWith('migration-')) continue;
    const ends = stream.filter((e) => TERMINAL.has(e.type)).map((e) => e.type);
    if (ends.length !== 1)
      out.push(`${streamId}: ${ends.length === 0 ? 'never ended' : `ended ${ends.length} times (${ends.join(', ')})`}`);
    const claimed = new Set(stream.filter((e) => e.type === 'DestinationClaimed').map((e) => Number(e.data['attempt'])));
    const givenBack = new Set(stream.filter((e) => e.type === 'DestinationReleased').map((e) => Number(e.data['attempt'])));
    const completed = new Set(stream.filter((e) => e.type === 'SourceReleased').map((e) => Number(e.data['attempt'])));
    for (const a of claimed)
      if (givenBack.has(a) === completed.has(a))
        out.push(
          `${streamId}: attempt ${a}'s destination claim ${givenBack.has(a) ? 'both released and kept' : 'neither released nor completed'}`,
        );
  }
  return out;
}

/**
 * Every violation of the invariants for these VMs (and any claim or domain of another VM); [] when all hold.
 * A VM in `stopped` (moved cold) is checked stopped instead of running: inventory's status, its one
 * domain shut off, the executor's record; its claims and location as any other's.
 */
export async function fleetViolations(
  p: FleetProbe,
  vmIds: readonly string[],
  o: { readonly stopped?: ReadonlySet<string> } = {},
): Promise<string[]> {
  const out: string[] = [];
  const known = new Set(vmIds);
  const [invLog, migLog] = await Promise.all([readEventLog(p.dbs.inventory.url), readEventLog(p.dbs.migration.url)]);
  const folded = foldInventoryLog(invLog);
  const readClaims = new Map(await Promise.all(p.hosts.map(async (h) => [h, await p.claimsOf(h)] as const)));
  const domains = new Map(await Promise.all(p.hosts.map(async (h) => [h, await p.hostDomains(h)] as const)));
  for (const vmId of vmIds) {
    const vm = await p.getVm(vmId);
    const where = vm.hostId;
    const stopped = o.stopped?.has(vmId) ?? false;
    const expected = stopped ? inventoryV1.VmStatus.VM_STATUS_STOPPED : inventoryV1.VmStatus.VM_STATUS_RUNNING;
    if (vm.status !== expected || vm.migrationId !== '')
      out.push(`${vmId}: inventory says ${inventoryV1.VmStatus[vm.status]} on ${where} (moving ${vm.migrationId || '-'})`);
    const read = p.hosts.filter((h) => readClaims.get(h)?.includes(vmId));
    if (read.length !== 1 || read[0] !== where)
      out.push(`${vmId}: runs on ${where}, inventory's read model has its claims on [${read.join(', ')}]`);
    const logged = p.hosts.filter((h) => folded.claims.get(h)?.has(vmId));
    if (logged.length !== 1 || logged[0] !== where)
      out.push(`${vmId}: runs on ${where}, inventory's log has its claims on [${logged.join(', ')}]`);
    const fromLog = folded.vms.get(vmId);
    if (fromLog?.hostId !== where || fromLog.moving !== '')
      out.push(
        `${vmId}: inventory's log has it on ${fromLog?.hostId ?? 'nothing'} (moving ${fromLog?.moving || '-'}), its read model on ${where}`,
      );
    const on = p.hosts.flatMap((h) => (domains.get(h) ?? []).filter((d) => d.vmId === vmId).map((d) => `${h}:${d.state}`));
    if (on.length !== 1 || on[0] !== `${where}:${stopped ? 'shut-off' : 'running'}`)
      out.push(`${vmId}: runs on ${where} in inventory, the hypervisors have [${on.join(', ')}]`);
    const ex = await p.runtime(vmId);
    if (ex.status !== (stopped ? 'stopped' : 'running') || ex.hostId !== where || ex.migrationId !== '')
      out.push(`${vmId}: the executor has it ${ex.status} on ${ex.hostId} (moving ${ex.migrationId || '-'}), inventory on ${where}`);
  }
  for (const h of p.hosts) {
    for (const v of readClaims.get(h) ?? []) if (!known.has(v)) out.push(`${h}: a claim of ${v}, a VM of no case`);
    for (const d of domains.get(h) ?? []) if (!known.has(d.vmId)) out.push(`${h}: a domain of ${d.vmId || '?'}, a VM of no case`);
  }
  out.push(...migrationLogViolations(migLog));
  return out;
}
