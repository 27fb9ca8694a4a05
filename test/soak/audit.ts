/**
 * The audit after the storm, from the event logs (each service's Postgres log, read directly), the
 * read models (inventory's and migration's gRPC answers), the hypervisor (the executor's view of
 * every simulated host, ListDomains) and the bus (every JetStream message id):
 * - every acknowledged ComposeVm ended running/stopped, or failed with a reason; every acknowledged
 *   DeleteVm ended deleted; no acknowledged migration is left unfinished;
 * - no host over capacity at any prefix of its log; no claim applied twice; no claim left behind;
 * - no VM running on two hosts, none running that should not, none missing that should run;
 * - every committed event published exactly once (the stream's message ids against the log).
 */
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { inventoryV1, migrationV1 } from '@berth/contracts';
import {
  allocatableMemory,
  allocatableVcpus,
  applyClaim,
  releaseClaim,
  usage,
  type Claim,
  type HostCapacity,
  type HostSnapshot,
} from '@berth/fit';
import { callUnary } from '@berth/grpc-kit';
import { byStream, readEventIds, readEventLog, type LoggedEvent } from '../harness/event-log.ts';
import type { Load } from './load.ts';
import type { Plane } from './plane.ts';

const S = inventoryV1.VmStatus;
const SETTLED = new Set([
  S.VM_STATUS_RUNNING,
  S.VM_STATUS_STOPPED,
  S.VM_STATUS_DELETED,
  S.VM_STATUS_PLACEMENT_FAILED,
  S.VM_STATUS_PROVISION_FAILED,
]);
const FAILED = new Set([S.VM_STATUS_PLACEMENT_FAILED, S.VM_STATUS_PROVISION_FAILED]);

export interface AuditReport {
  acknowledged: number;
  completed: number;
  failed: number;
  lost: number;
  duplicated: number;
  overcommitted: number;
  leakedClaims: number;
  duplicateDomains: number;
  rounds: number;
  deletesAcknowledged: number;
  migrationsAcknowledged: number;
  unpublished: number;
  /**
   * Events in a stream more than once (same event id). A relay that published, died before its
   * checkpoint moved and came back reads back its stream's newest ids and skips them (and JetStream
   * drops a copy within its 2-minute duplicate window); consumers would dedupe one anyway, so a copy
   * is reported as a problem, not counted as a loss.
   */
  republished: number;
  problems: string[];
}

const listVms = async (plane: Plane) =>
  (await callUnary(plane.inventory, 'listVms', { hostId: '', status: S.VM_STATUS_UNSPECIFIED }, { deadline: Date.now() + 30_000 })).vms;

/** Waits (at most `millis`) until no VM is between states and no migration is active; returns what is still open. */
export async function settle(plane: Plane, millis: number): Promise<string[]> {
  const until = Date.now() + millis;
  let open: string[] = [];
  while (Date.now() < until) {
    try {
      const vms = await listVms(plane);
      const active = (await callUnary(plane.migration, 'listMigrations', { vmId: '', hostId: '', activeOnly: true, limit: 1000 }))
        .migrations;
      open = [
        ...vms
          .filter((v) => !SETTLED.has(v.status) || v.migrationId !== '')
          .map((v) => `${v.vmId}: ${S[v.status]}${v.migrationId ? ' migrating' : ''}`),
        ...active.map((m) => `migration ${m.migrationId} of ${m.vmId}: ${migrationV1.MigrationStatus[m.status]}`),
      ];
      if (open.length === 0) return [];
    } catch (e) {
      open = [`not answering: ${e instanceof Error ? e.message : String(e)}`];
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
  return open;
}

/** Message ids in a stream (the relay publishes with Nats-Msg-Id = event id), with their counts. */
async function streamMessageIds(natsUrl: string, stream: string): Promise<Map<string, number>> {
  const nc = await connect({ servers: natsUrl });
  const ids = new Map<string, number>();
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream);
    for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
      const m = await jsm.streams.getMessage(stream, { seq }).catch(() => null);
      const id = m?.header?.get('Nats-Msg-Id');
      if (id) ids.set(id, (ids.get(id) ?? 0) + 1);
    }
  } finally {
    await nc.close();
  }
  return ids;
}

/** Replays every host stream: capacity at every prefix, a claim never applied twice, and the claims left at the end. */
export function replayHosts(
  streams: Map<string, LoggedEvent[]>,
  problems: string[],
): { overcommitted: number; duplicated: number; claims: Map<string, Set<string>> } {
  let overcommitted = 0;
  let duplicated = 0;
  const claims = new Map<string, Set<string>>();
  for (const [streamId, events] of streams) {
    if (!streamId.startsWith('host-')) continue;
    const hostId = streamId.slice('host-'.length);
    let snap: HostSnapshot | undefined;
    for (const e of events) {
      if (e.type === 'HostRegistered' || e.type === 'HostUpdated') {
        snap = { capacity: e.data['capacity'] as HostCapacity, generation: e.streamPosition, claims: snap?.claims ?? [] };
      } else if (e.type === 'ResourcesClaimed' && snap) {
        const claim = e.data['claim'] as Claim;
        if (snap.claims.some((c) => c.vmId === claim.vmId)) {
          duplicated++;
          problems.push(`${streamId}@${e.streamPosition}: claim of ${claim.vmId} applied twice`);
        }
        snap = applyClaim(snap, claim);
      } else if (e.type === 'ClaimReleased' && snap) {
        snap = releaseClaim(snap, e.data['vmId'] as string);
      }
      if (!snap) continue;
      const u = usage(snap);
      const cap = snap.capacity;
      if (
        u.vcpus > allocatableVcpus(cap.cpus, cap.cpuOvercommit) ||
        u.memoryBytes > allocatableMemory(cap.memoryBytes, cap.memoryOvercommit)
      ) {
        overcommitted++;
        problems.push(`${streamId}@${e.streamPosition}: over capacity (${u.vcpus} vCPUs, ${u.memoryBytes} B)`);
      }
    }
    claims.set(hostId, new Set(snap?.claims.map((c) => c.vmId) ?? []));
  }
  return { overcommitted, duplicated, claims };
}

export async function audit(plane: Plane, load: Load, rounds: number, open: readonly string[]): Promise<AuditReport> {
  const problems: string[] = open.map((o) => `unsettled: ${o}`);
  const vms = new Map((await listVms(plane)).map((v) => [v.vmId, v]));
  const invLog = await readEventLog(plane.pg.url('berth_inventory'));
  const streams = byStream(invLog);
  const requested = new Map<string, number>();
  // One VmRequested per attempt (a re-placement after a failed provisioning is the next attempt's):
  // `requested` counts first attempts plus any attempt seen twice, so n > 1 is a duplicate.
  const attempts = new Set<string>();
  for (const e of invLog) {
    if (e.type !== 'VmRequested') continue;
    const vmId = String(e.data['vmId']);
    const attempt = Number(e.data['attempt'] ?? 1);
    const key = `${vmId}#${attempt}`;
    if (attempt === 1 || attempts.has(key)) requested.set(vmId, (requested.get(vmId) ?? 0) + 1);
    attempts.add(key);
  }

  let acknowledged = 0;
  let completed = 0;
  let failed = 0;
  let lost = 0;
  let duplicated = 0;
  for (const [vmId, acked] of load.composes) {
    const vm = vms.get(vmId);
    const n = requested.get(vmId) ?? 0;
    if (n > 1) {
      duplicated++;
      problems.push(`${vmId}: ${n} VmRequested`);
    }
    if (!acked) {
      // Unanswered: may or may not exist; if it does, it must have settled like any other.
      if (vm && !SETTLED.has(vm.status)) problems.push(`${vmId} (unacknowledged): stuck in ${S[vm.status]}`);
      continue;
    }
    acknowledged++;
    if (!vm || n === 0) {
      lost++;
      problems.push(`${vmId}: acknowledged compose not in inventory`);
    } else if (load.deletesAcked.has(vmId)) {
      if (vm.status !== S.VM_STATUS_DELETED) {
        lost++;
        problems.push(`${vmId}: acknowledged delete, still ${S[vm.status]}`);
      } else completed++;
    } else if (FAILED.has(vm.status)) {
      if (vm.failureReason === '') {
        lost++;
        problems.push(`${vmId}: ${S[vm.status]} without a reason`);
      } else failed++;
    } else if (vm.status === S.VM_STATUS_RUNNING || vm.status === S.VM_STATUS_STOPPED || vm.status === S.VM_STATUS_DELETED) completed++;
    else {
      lost++;
      problems.push(`${vmId}: stuck in ${S[vm.status]}`);
    }
  }

  for (const migrationId of load.migrationsAcked.keys()) {
    const m = (await callUnary(plane.migration, 'getMigration', { migrationId })).migration;
    const done = [
      migrationV1.MigrationStatus.MIGRATION_STATUS_COMPLETED,
      migrationV1.MigrationStatus.MIGRATION_STATUS_FAILED,
      migrationV1.MigrationStatus.MIGRATION_STATUS_ABORTED,
    ];
    if (!m) {
      lost++;
      problems.push(`migration ${migrationId}: acknowledged, not found`);
    } else if (!done.includes(m.status)) problems.push(`migration ${migrationId}: ended ${migrationV1.MigrationStatus[m.status]}`);
  }

  const hosts = replayHosts(streams, problems);
  duplicated += hosts.duplicated;
  // A claim is owed only by a VM that holds resources: placed somewhere and not failed or deleted.
  let leakedClaims = 0;
  for (const [hostId, held] of hosts.claims)
    for (const vmId of held) {
      const vm = vms.get(vmId);
      const owes = vm && !FAILED.has(vm.status) && vm.status !== S.VM_STATUS_DELETED && vm.hostId === hostId;
      if (!owes) {
        leakedClaims++;
        problems.push(`claim of ${vmId} left on ${hostId} (VM ${vm ? `${S[vm.status]} on ${vm.hostId || '-'}` : 'unknown'})`);
      }
    }

  // The hypervisor's view: each VM's domain on at most one host, running only where it should run.
  let duplicateDomains = 0;
  const runningOn = new Map<string, string[]>();
  for (const hostId of plane.hostIds()) {
    const r = await callUnary(plane.executor, 'listDomains', { hostId });
    for (const d of r.domains) if (d.vmId && d.state === 'running') runningOn.set(d.vmId, [...(runningOn.get(d.vmId) ?? []), hostId]);
  }
  for (const [vmId, on] of runningOn) {
    const vm = vms.get(vmId);
    if (on.length > 1) {
      duplicateDomains++;
      problems.push(`${vmId} runs on ${on.join(' and ')}`);
    } else if (!vm || vm.status !== S.VM_STATUS_RUNNING || vm.hostId !== on[0]) {
      duplicateDomains++;
      problems.push(`${vmId} runs on ${on[0]} but inventory says ${vm ? `${S[vm.status]} on ${vm.hostId || '-'}` : 'nothing'}`);
    }
  }
  for (const vm of vms.values())
    if (vm.status === S.VM_STATUS_RUNNING && !(runningOn.get(vm.vmId) ?? []).includes(vm.hostId))
      problems.push(`${vm.vmId}: RUNNING on ${vm.hostId}, no domain runs there`);

  // Every committed event published exactly once.
  let unpublished = 0;
  let republished = 0;
  for (const [db, stream] of [
    ['berth_inventory', 'BERTH_INVENTORY'],
    ['berth_executor', 'BERTH_EXECUTOR'],
    ['berth_migration', 'BERTH_MIGRATION'],
    ['berth_telemetry', 'BERTH_TELEMETRY'],
  ] as const) {
    // The log first: telemetry goes on recording, and what it appends after this read is not owed yet.
    const logged = db === 'berth_inventory' ? invLog.map((e) => e.eventId) : await readEventIds(plane.pg.url(db));
    let missing = 0;
    let twice = 0;
    // The relay publishes within about a second of the commit: look again a few times for the newest.
    for (let look = 0; look < 10; look++, await new Promise((r) => setTimeout(r, 2000))) {
      const ids = await streamMessageIds(plane.nats.url, stream);
      missing = logged.filter((id) => !ids.has(id)).length;
      twice = logged.filter((id) => (ids.get(id) ?? 0) > 1).length;
      if (missing === 0) break;
    }
    if (missing > 0) problems.push(`${stream}: ${missing} committed events never published`);
    if (twice > 0) problems.push(`${stream}: ${twice} events published more than once`);
    unpublished += missing;
    republished += twice;
  }
  return {
    acknowledged,
    completed,
    failed,
    lost: lost + unpublished,
    duplicated,
    overcommitted: hosts.overcommitted,
    leakedClaims,
    duplicateDomains,
    rounds,
    deletesAcknowledged: load.deletesAcked.size,
    migrationsAcknowledged: load.migrationsAcked.size,
    unpublished,
    republished,
    problems: problems.slice(0, 50),
  };
}
