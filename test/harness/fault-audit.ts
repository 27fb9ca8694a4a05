/**
 * The audit of a fault test, with the fields of the whole-plane audit (test/soak/audit.ts), computed
 * from inventory's log (read directly), its read model (ListVms) and the hypervisors (what the test
 * reads there: `virsh`, or the executor's ListDomains):
 * - `acknowledged`: composes answered OK; `completed`: of those, running, stopped, or deleted (a delete
 *   acknowledged); `failed`: placement or provisioning failed, `failedReasons` counts their reasons;
 *   `lost`: missing from the log or the read model, stuck between states, failed without a reason,
 *   or deleted-acknowledged but not deleted;
 * - `duplicated`: a VM's request of one attempt logged twice, or a claim applied twice on a host;
 * - `overcommitted`: a host over its vCPUs or memory at any prefix of its log;
 * - `leakedClaims`: a claim left on a host by a VM that does not run there;
 * - `duplicateDomains`: a VM's domain running on two hosts, or where inventory does not place it;
 * - `rounds`: the faults the test injected (counted by the test as it injects them).
 */
import { inventoryV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { replayHosts } from '../soak/audit.ts';
import { byStream, readEventLog } from './event-log.ts';

const S = inventoryV1.VmStatus;
const FAILED = new Set([S.VM_STATUS_PLACEMENT_FAILED, S.VM_STATUS_PROVISION_FAILED]);

export interface FaultAudit {
  acknowledged: number;
  completed: number;
  failed: number;
  failedReasons: Record<string, number>;
  lost: number;
  duplicated: number;
  overcommitted: number;
  leakedClaims: number;
  duplicateDomains: number;
  rounds: number;
  problems: string[];
}

export interface FaultAuditInput {
  readonly inventoryDbUrl: string;
  readonly inventory: InstanceType<typeof inventoryV1.InventoryServiceClient>;
  /** VM ids whose ComposeVm was answered OK. */
  readonly acknowledged: Iterable<string>;
  /** VM ids whose DeleteVm was answered OK. */
  readonly deleted?: Iterable<string>;
  readonly rounds: number;
  /** Where each VM's domain runs, per the hypervisors: vmId -> hosts. Without it, duplicateDomains is not checked (0). */
  readonly domains?: () => Promise<Map<string, readonly string[]>>;
}

export async function faultAudit(o: FaultAuditInput): Promise<FaultAudit> {
  const problems: string[] = [];
  const vms = new Map(
    (await callUnary(o.inventory, 'listVms', { hostId: '', status: S.VM_STATUS_UNSPECIFIED }, { deadline: Date.now() + 30_000 })).vms.map(
      (v) => [v.vmId, v],
    ),
  );
  const log = await readEventLog(o.inventoryDbUrl);
  const perAttempt = new Map<string, number>();
  for (const e of log)
    if (e.type === 'VmRequested') {
      const key = `${String(e.data['vmId'])}#${Number(e.data['attempt'] ?? 1)}`;
      perAttempt.set(key, (perAttempt.get(key) ?? 0) + 1);
    }
  let duplicated = 0;
  for (const [key, n] of perAttempt)
    if (n > 1) {
      duplicated++;
      problems.push(`${key}: ${n} VmRequested`);
    }
  const deleted = new Set(o.deleted ?? []);
  const acked = new Set(o.acknowledged);
  let completed = 0;
  let failed = 0;
  let lost = 0;
  const failedReasons: Record<string, number> = {};
  for (const vmId of acked) {
    const vm = vms.get(vmId);
    if (!vm || !perAttempt.has(`${vmId}#1`)) {
      lost++;
      problems.push(`${vmId}: acknowledged, not in inventory's log and read model`);
    } else if (deleted.has(vmId)) {
      if (vm.status === S.VM_STATUS_DELETED) completed++;
      else {
        lost++;
        problems.push(`${vmId}: delete acknowledged, still ${S[vm.status]}`);
      }
    } else if (FAILED.has(vm.status)) {
      if (vm.failureReason === '') {
        lost++;
        problems.push(`${vmId}: ${S[vm.status]} without a reason`);
      } else {
        failed++;
        failedReasons[vm.failureReason] = (failedReasons[vm.failureReason] ?? 0) + 1;
      }
    } else if (vm.status === S.VM_STATUS_RUNNING || vm.status === S.VM_STATUS_STOPPED || vm.status === S.VM_STATUS_DELETED) completed++;
    else {
      lost++;
      problems.push(`${vmId}: stuck in ${S[vm.status]}`);
    }
  }
  const hosts = replayHosts(byStream(log), problems);
  duplicated += hosts.duplicated;
  let leakedClaims = 0;
  for (const [hostId, held] of hosts.claims)
    for (const vmId of held) {
      const vm = vms.get(vmId);
      if (!(vm && !FAILED.has(vm.status) && vm.status !== S.VM_STATUS_DELETED && vm.hostId === hostId)) {
        leakedClaims++;
        problems.push(`claim of ${vmId} left on ${hostId} (VM ${vm ? `${S[vm.status]} on ${vm.hostId || '-'}` : 'unknown'})`);
      }
    }
  let duplicateDomains = 0;
  if (o.domains) {
    const runningOn = await o.domains();
    for (const [vmId, on] of runningOn) {
      const vm = vms.get(vmId);
      if (on.length > 1) {
        duplicateDomains++;
        problems.push(`${vmId} runs on ${on.join(' and ')}`);
      } else if (on.length === 1 && (!vm || vm.status !== S.VM_STATUS_RUNNING || vm.hostId !== on[0])) {
        duplicateDomains++;
        problems.push(`${vmId} runs on ${on[0]} but inventory says ${vm ? `${S[vm.status]} on ${vm.hostId || '-'}` : 'nothing'}`);
      }
    }
    for (const vm of vms.values())
      if (vm.status === S.VM_STATUS_RUNNING && !(runningOn.get(vm.vmId) ?? []).includes(vm.hostId)) {
        lost++;
        problems.push(`${vm.vmId}: RUNNING on ${vm.hostId}, no domain runs there`);
      }
  }
  return {
    acknowledged: acked.size,
    completed,
    failed,
    failedReasons,
    lost,
    duplicated,
    overcommitted: hosts.overcommitted,
    leakedClaims,
    duplicateDomains,
    rounds: o.rounds,
    problems: problems.slice(0, 50),
  };
}

/** The audit's loss figures, all of which must be 0. */
export const lossFigures = (a: FaultAudit) => ({
  lost: a.lost,
  duplicated: a.duplicated,
  overcommitted: a.overcommitted,
  leakedClaims: a.leakedClaims,
  duplicateDomains: a.duplicateDomains,
});
