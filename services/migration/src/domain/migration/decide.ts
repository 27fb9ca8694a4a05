import { IllegalStateError, NotFoundError } from '@berth/errors';
import type { migrationEvents } from '@berth/contracts';
import type { ExecutorAnswer, MigrationCommand } from './commands.ts';
import { event, unreachable, type MigrationEvent } from './events.ts';
import type { ExistingMigration, Migration, WithDestination } from './state.ts';

function existing(m: Migration): ExistingMigration {
  if (m.status === 'absent') throw new NotFoundError('migration', '(unknown)');
  return m;
}

/** Reports about another attempt than the current one (late, repeated) change nothing. */
const current = (m: Migration, attempt: number): m is WithDestination => 'destination' in m && m.attempt === attempt;

/** Backoff before attempt n (n >= 2): base, 2 x base, 4 x base, ... */
export const retryDelayMillis = (nextAttempt: number, baseMillis: number): number => baseMillis * 2 ** Math.max(0, nextAttempt - 2);

const failureSummary = (m: ExistingMigration, last: string): string => {
  const tried = m.attempts.filter((a) => a.outcome === 'failed');
  if (tried.length === 0) return last;
  return `${tried.length} attempt(s) failed: ${tried.map((a) => `#${a.attempt} ${a.hostId || '(no host)'}: ${a.reason}`).join('; ')}`;
};

/**
 * The migration aggregate's decider: requested -> destination chosen -> destination claimed ->
 * migrating -> switched over -> source released -> completed; a failed attempt releases its
 * destination claim, then retries elsewhere (bounded, with backoff) or fails with every attempt's
 * reason; cancel aborts until the switch-over; post-copy paused is recovered only by resuming.
 * Pure: time and ids come with the command, refusals throw the @berth/errors taxonomy.
 */
export function decideMigration(c: MigrationCommand, m: Migration): MigrationEvent[] {
  switch (c.type) {
    case 'RequestMigration':
      if (m.status !== 'absent') return []; // the same id again: answered as the first time
      return [event('MigrationRequested', c.request)];
    case 'RecordQueued': {
      const x = existing(m);
      if (x.status !== 'requested' && x.status !== 'retry-waiting' && x.status !== 'queued') return [];
      if (x.attempt !== c.attempt) return [];
      // Waiting on as before: nothing to record (the sweep asks every interval; the log does not grow).
      if (x.status === 'queued' && x.cap === c.cap && x.reason === c.reason) return [];
      return [event('MigrationQueued', { attempt: c.attempt, cap: c.cap, reason: c.reason })];
    }
    case 'RecordDestinationChosen': {
      const x = existing(m);
      const open =
        x.status === 'requested' ||
        x.status === 'queued' ||
        x.status === 'retry-waiting' ||
        (x.status === 'destination-chosen' && x.attempt === c.attempt);
      if (!open || x.attempt !== c.attempt) return [];
      if (x.status === 'retry-waiting' && c.now < x.notBefore) return [];
      return [
        event('DestinationChosen', {
          attempt: c.attempt,
          hostId: c.hostId,
          generation: c.generation,
          claim: c.claim,
          explanation: c.explanation,
        }),
      ];
    }
    case 'RecordNoDestination': {
      const x = existing(m);
      if ((x.status !== 'requested' && x.status !== 'queued' && x.status !== 'retry-waiting') || x.attempt !== c.attempt) return [];
      const failed = event('AttemptFailed', { attempt: c.attempt, stage: 'choose', reason: c.reason });
      const after = { ...x, attempts: [...x.attempts, { attempt: c.attempt, outcome: 'failed' as const, reason: c.reason }] };
      return [failed, event('MigrationFailed', { reason: failureSummary(after, c.reason), attempts: summaries(after) })];
    }
    case 'RecordDestinationClaimed': {
      if (!current(m, c.attempt) || m.status !== 'destination-chosen') return [];
      const { core } = m;
      return [
        event('DestinationClaimed', {
          attempt: c.attempt,
          vmId: core.vmId,
          hostId: m.destination.hostId,
          hypervisorUri: c.hypervisorUri,
          generation: c.generation,
          sourceHostId: core.sourceHostId,
          sourceHypervisorUri: core.sourceHypervisorUri,
          memoryBytes: core.memoryBytes,
          policy: core.policy,
          ...(core.kind === 'cold' && { cold: true }),
          claim: c.claim,
          ...(c.startBy !== undefined && { startBy: c.startBy }),
        }),
      ];
    }
    case 'RecordClaimRefused':
      if (!current(m, c.attempt) || (m.status !== 'destination-chosen' && m.status !== 'aborting')) return [];
      return [event('AttemptFailed', { attempt: c.attempt, hostId: m.destination.hostId, stage: 'claim', reason: c.reason })];
    case 'RecordCopyStarted':
      if (!current(m, c.attempt) || m.status !== 'destination-claimed') return [];
      return [event('MigrationCopyStarted', { attempt: c.attempt })];
    case 'RecordProgress':
      if (!current(m, c.attempt) || (m.status !== 'migrating' && m.status !== 'destination-claimed' && m.status !== 'aborting')) return [];
      return [event('MigrationProgressed', { attempt: c.attempt, progress: c.progress })];
    case 'RecordSwitchedOver': {
      // The hypervisor is the truth: a switch-over it confirms stands even when a cancel came first.
      const ok =
        m.status === 'destination-claimed' || m.status === 'migrating' || m.status === 'aborting' || m.status === 'postcopy-paused';
      if (!current(m, c.attempt) || !ok) return [];
      return [event('SwitchedOver', { attempt: c.attempt, hostId: m.destination.hostId })];
    }
    case 'RecordSourceReleased':
      if (!current(m, c.attempt) || m.status !== 'switched-over') return [];
      return [
        event('SourceReleased', { attempt: c.attempt, hostId: m.core.sourceHostId }),
        event('MigrationCompleted', { hostId: m.destination.hostId, attempts: c.attempt }),
      ];
    case 'RecordCopyFailed': {
      const ok = m.status === 'destination-claimed' || m.status === 'migrating' || m.status === 'aborting';
      if (!current(m, c.attempt) || !ok) return [];
      return [event('AttemptFailed', { attempt: c.attempt, hostId: m.destination.hostId, stage: 'copy', reason: c.reason })];
    }
    case 'RecordPostCopyPaused':
      if (!current(m, c.attempt) || (m.status !== 'migrating' && m.status !== 'aborting')) return [];
      return [event('PostCopyPaused', { attempt: c.attempt, detail: c.detail })];
    case 'RecordDestinationReleased': {
      if (!current(m, c.attempt) || m.status !== 'releasing-destination') return [];
      const released = event('DestinationReleased', { attempt: c.attempt, hostId: m.destination.hostId });
      switch (m.then) {
        case 'abort':
          return [released, event('MigrationAborted', { reason: m.reason })];
        case 'fail':
          return [released, event('MigrationFailed', { reason: failureSummary(m, m.reason), attempts: summaries(m) })];
        case 'retry': {
          const next = c.attempt + 1;
          const notBefore = new Date(Date.parse(c.now) + retryDelayMillis(next, c.backoffMillis)).toISOString();
          return [released, event('RetryScheduled', { attempt: next, notBefore })];
        }
        default:
          return unreachable(m.then);
      }
    }
    case 'RecordExecutorProbe': {
      const waiting = m.status === 'destination-claimed' || m.status === 'migrating' || m.status === 'aborting';
      if (!current(m, c.attempt) || !waiting) return [];
      const { outcome, detail } = judgeProbe(m, c.answer);
      const probed = event('ExecutorProbed', { attempt: c.attempt, at: c.at, outcome, detail, silentMillis: c.silentMillis });
      const hostId = m.destination.hostId;
      if (outcome === 'switched-over') return [probed, event('SwitchedOver', { attempt: c.attempt, hostId })];
      if (outcome === 'not-running') {
        const reason = `the executor said nothing for ${Math.round(c.silentMillis / 1000)} s and ${detail}`;
        return [probed, event('AttemptFailed', { attempt: c.attempt, hostId, stage: 'copy', reason })];
      }
      return [probed];
    }
    case 'Cancel': {
      const x = existing(m);
      switch (x.status) {
        case 'aborting':
        case 'aborted':
          return [];
        case 'requested':
        case 'queued':
        case 'retry-waiting':
          return [
            event('CancelRequested', { vmId: x.core.vmId, attempt: 0, reason: c.reason }),
            event('MigrationAborted', { reason: c.reason }),
          ];
        case 'destination-chosen':
        case 'destination-claimed':
        case 'migrating':
          return [event('CancelRequested', { vmId: x.core.vmId, attempt: x.attempt, reason: c.reason })];
        case 'releasing-destination':
          // Already giving the claim back; it ends aborted instead of retrying.
          return x.then === 'abort' ? [] : [event('CancelRequested', { vmId: x.core.vmId, attempt: x.attempt, reason: c.reason })];
        case 'postcopy-paused':
          throw new IllegalStateError(
            `migration ${x.core.migrationId} is paused in post-copy: the guest already runs on ${x.destination.hostId} and cannot be moved back; resume it`,
          );
        case 'switched-over':
        case 'completed':
        case 'failed':
          throw new IllegalStateError(`cannot cancel migration ${x.core.migrationId}: it is ${x.status}`);
        default:
          return unreachable(x);
      }
    }
    case 'Resume': {
      const x = existing(m);
      if (x.status === 'migrating') return [];
      if (x.status !== 'postcopy-paused')
        throw new IllegalStateError(`cannot resume migration ${x.core.migrationId}: it is ${x.status}, not post-copy paused`);
      return [event('ResumeRequested', { vmId: x.core.vmId, attempt: x.attempt })];
    }
    default:
      return unreachable(c);
  }
}

/**
 * What an executor's answer means for the attempt: its log has the attempt under way (wait on),
 * has the VM on the destination with nothing under way (the switch-over report was lost), or on the
 * source with nothing under way (it never started, or its failure report was lost: the attempt
 * failed; the executor refuses a start older than its window, shorter than the silence, so it
 * cannot begin behind the compensation's back). Anything else is recorded and waited on.
 */
export function judgeProbe(m: WithDestination, a: ExecutorAnswer): { outcome: migrationEvents.ProbeOutcome; detail: string } {
  const id = m.core.migrationId;
  const source = m.core.sourceHostId;
  const dest = m.destination.hostId;
  switch (a.kind) {
    case 'unreachable':
      return { outcome: 'unreachable', detail: `could not be asked: ${a.detail}` };
    case 'unknown-vm':
      return { outcome: 'not-running', detail: `has no record of VM ${m.core.vmId}` };
    case 'vm':
      if (a.migrationId === id && a.migrationAttempt === m.attempt)
        return { outcome: 'under-way', detail: `attempt ${m.attempt} is under way` };
      if (a.migrationId !== '')
        return { outcome: 'unexpected', detail: `has migration ${a.migrationId} attempt ${a.migrationAttempt} under way instead` };
      if (a.hostId === dest) return { outcome: 'switched-over', detail: `has the VM ${a.status} on ${dest}, nothing under way` };
      if (a.hostId === source) return { outcome: 'not-running', detail: `has no migration under way; the VM is ${a.status} on ${source}` };
      return { outcome: 'unexpected', detail: `has the VM ${a.status} on ${a.hostId || 'no host'}, neither ${source} nor ${dest}` };
    default:
      return unreachable(a);
  }
}

function summaries(m: ExistingMigration): migrationEvents.AttemptSummary[] {
  return m.attempts
    .filter((a) => a.outcome === 'failed')
    .map((a) => ({ attempt: a.attempt, ...(a.hostId !== undefined ? { hostId: a.hostId } : {}), reason: a.reason }));
}
