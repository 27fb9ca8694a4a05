/** Evacuation RPCs: thin handlers over the EvacuationRunner (decode, ask, encode). */
import type { migrationV1 as pb } from '@berth/contracts';
import { NotFoundError, Violations } from '@berth/errors';
import { unary } from '@berth/grpc-kit';
import type { EvacuationRunner } from '../../application/evacuations.ts';
import type { EvacuationPlan } from '../../domain/evacuation/model.ts';
import type { Evacuation } from '../../domain/evacuation/state.ts';
import { commandIdOf } from './migrations.ts';

export type EvacuationHandlers = Pick<
  pb.MigrationServiceServer,
  'planEvacuation' | 'startEvacuation' | 'cancelEvacuation' | 'getEvacuation'
>;

const HOST_ID = /^[A-Za-z0-9_.-]{1,128}$/;
const checkHost = (hostId: string): void =>
  new Violations().check(HOST_ID.test(hostId), 'hostId', `must be 1-128 of [A-Za-z0-9_.-], got '${hostId}'`).throwIfAny();

const GiB = 1024 ** 3;

export function encodePlan(p: EvacuationPlan): pb.EvacuationPlan {
  const summary =
    `${p.moves.length} VM(s) to move (${+(p.totalMemoryBytes / GiB).toFixed(1)} GiB), ${p.concurrency.effective} at once` +
    (p.blockers.length > 0 ? `; ${p.blockers.length} blocker(s): the host stays preparing until they are resolved` : '') +
    (p.inFlight.length > 0 ? `; ${p.inFlight.length} already moving` : '');
  return {
    hostId: p.hostId,
    moves: p.moves.map((m, i) => ({
      vmId: m.vmId,
      vmName: m.vmName,
      destinationHostId: m.destinationHostId,
      reason: m.reason,
      warning: m.warnings[0] ?? '',
      priority: m.priority,
      memoryBytes: m.memoryBytes,
      order: i + 1,
    })),
    blockers: p.blockers.map((b) => ({ vmId: b.vmId, vmName: b.vmName, reason: b.reason, remedy: b.remedies.join('; ') })),
    warnings: p.moves.flatMap((m) => m.warnings.map((w) => `${m.vmName}: ${w}`)),
    totalMemoryBytes: p.totalMemoryBytes,
    concurrency: p.concurrency.effective,
    summary,
  };
}

export function encodeEvacuation(e: Evacuation, plan?: EvacuationPlan): pb.Evacuation {
  if (e.status === 'absent') throw new NotFoundError('evacuation', '(none for this host)');
  const blockers = e.waiting.filter((w) => w.kind !== 'cap');
  const status = e.status === 'running' && blockers.length > 0 && e.running.size === 0 ? 'blocked' : e.status;
  return {
    evacuationId: e.evacuationId,
    hostId: e.hostId,
    status,
    ...(plan && { plan: encodePlan(plan) }),
    moves: [
      ...e.history.map((h) => ({
        vmId: h.vmId,
        migrationId: e.running.get(h.vmId)?.migrationId ?? '',
        status: h.outcome === 'running' ? 'migrating' : h.outcome,
        destinationHostId: h.destinationHostId,
        reason: h.reason,
      })),
      ...blockers.map((w) => ({
        vmId: w.vmId,
        migrationId: '',
        status: 'blocked',
        destinationHostId: '',
        reason: [w.reason, ...w.remedies].join('; '),
      })),
    ],
    blockedReason: e.waiting.map((w) => (w.vmId ? `${w.vmId}: ${w.reason}` : w.reason)).join('; '),
    nextRetryAt: e.status === 'running' && e.waiting.length > 0 ? (e.nextRetryAt ?? '') : '',
    previousHostState: e.previousState,
    startedAt: e.startedAt,
    updatedAt: 'endedAt' in e ? e.endedAt : '',
  };
}

export function evacuationHandlers(runner: EvacuationRunner): EvacuationHandlers {
  return {
    planEvacuation: unary<pb.PlanEvacuationRequest, pb.PlanEvacuationResponse>(async (r) => {
      checkHost(r.hostId);
      return { plan: encodePlan(await runner.plan(r.hostId, 'operator')) };
    }),
    startEvacuation: unary<pb.StartEvacuationRequest, pb.StartEvacuationResponse>(async (r) => {
      const commandId = commandIdOf(r.meta);
      checkHost(r.hostId);
      const e = await runner.start(r.hostId, 'operator', commandId);
      return { evacuation: encodeEvacuation(e, await runner.plan(r.hostId, 'operator')) };
    }),
    cancelEvacuation: unary<pb.CancelEvacuationRequest, pb.CancelEvacuationResponse>(async (r) => {
      const commandId = commandIdOf(r.meta);
      checkHost(r.hostId);
      return { evacuation: encodeEvacuation(await runner.cancel(r.hostId, r.abortRunning, 'cancelled by the operator', commandId)) };
    }),
    getEvacuation: unary<pb.GetEvacuationRequest, pb.GetEvacuationResponse>(async (r) => {
      checkHost(r.hostId);
      return { evacuation: encodeEvacuation(await runner.get(r.hostId)) };
    }),
  };
}
