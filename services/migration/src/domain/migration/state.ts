import type { migrationEvents } from '@berth/contracts';
import { unreachable, type MigrationEvent } from './events.ts';

type Ev = migrationEvents.MigrationEventMap;

/** What never changes after MigrationRequested. */
export type MigrationCore = Ev['MigrationRequested'];

/** One question the watchdog put to a silent executor about this attempt. */
export interface ProbeRecord {
  readonly at: string;
  readonly outcome: migrationEvents.ProbeOutcome;
  /** What the executor said (absent in read-model rows folded before it was kept). */
  readonly detail?: string;
  readonly silentMillis: number;
}

export interface AttemptRecord {
  readonly attempt: number;
  /** The destination of this attempt; absent when none was chosen. */
  readonly hostId?: string;
  readonly outcome: 'running' | 'completed' | 'failed' | 'aborted';
  readonly reason: string;
  /** The watchdog's probes of this attempt, oldest first (absent: none). */
  readonly probes?: readonly ProbeRecord[];
}

export interface Destination {
  readonly hostId: string;
  readonly generation: number;
  /** Set once claimed. */
  readonly hypervisorUri?: string;
  readonly claim: unknown;
}

/** What follows once a failed or cancelled attempt's destination claim is released. */
export type AfterRelease = 'retry' | 'fail' | 'abort';

interface Common {
  readonly version: number;
  readonly core: MigrationCore;
  readonly attempts: readonly AttemptRecord[];
  readonly progress?: migrationEvents.MigrationProgress;
}

export type Migration =
  | { readonly status: 'absent'; readonly version: number }
  | (Common & { readonly status: 'requested'; readonly attempt: number })
  /** Waiting for a concurrency slot; `reason` names the cap (MigrationQueued). Left by DestinationChosen. */
  | (Common & {
      readonly status: 'queued';
      readonly attempt: number;
      readonly cap: migrationEvents.MigrationCapName;
      readonly reason: string;
    })
  | (Common & { readonly status: 'retry-waiting'; readonly attempt: number; readonly notBefore: string })
  | (Common & {
      readonly status: 'destination-chosen' | 'destination-claimed' | 'migrating' | 'switched-over';
      readonly attempt: number;
      readonly destination: Destination;
    })
  | (Common & { readonly status: 'postcopy-paused'; readonly attempt: number; readonly destination: Destination; readonly detail: string })
  | (Common & { readonly status: 'aborting'; readonly attempt: number; readonly destination: Destination; readonly reason: string })
  | (Common & {
      readonly status: 'releasing-destination';
      readonly attempt: number;
      readonly destination: Destination;
      readonly reason: string;
      readonly then: AfterRelease;
    })
  | (Common & { readonly status: 'completed'; readonly hostId: string })
  | (Common & { readonly status: 'aborted' | 'failed'; readonly reason: string });

export type MigrationStatus = Migration['status'];
export type ExistingMigration = Exclude<Migration, { status: 'absent' }>;
export type WithDestination = Extract<Migration, { destination: Destination }>;

export const TERMINAL: ReadonlySet<MigrationStatus> = new Set(['completed', 'aborted', 'failed']);
export const isActive = (m: Migration): boolean => m.status !== 'absent' && !TERMINAL.has(m.status);

export const initialMigration = (): Migration => ({ status: 'absent', version: 0 });

const setAttempt = (list: readonly AttemptRecord[], attempt: number, patch: Partial<AttemptRecord>): AttemptRecord[] =>
  list.map((a) => (a.attempt === attempt ? { ...a, ...patch } : a));

/** The hosts this migration must not go to: the source and every destination that failed. */
export const excludedHosts = (m: ExistingMigration): string[] => [
  m.core.sourceHostId,
  ...m.attempts.flatMap((a) => (a.outcome !== 'running' && a.hostId !== undefined ? [a.hostId] : [])),
];

export function evolveMigration(m: Migration, e: MigrationEvent): Migration {
  const version = m.version + 1;
  if (e.type === 'MigrationRequested') return { status: 'requested', version, core: e.data, attempts: [], attempt: 1 };
  if (m.status === 'absent') return { ...m, version };
  const base = { version, core: m.core, attempts: m.attempts, ...(m.progress ? { progress: m.progress } : {}) };
  const dest = 'destination' in m ? m.destination : undefined;
  const attempt = 'attempt' in m ? m.attempt : 0;
  switch (e.type) {
    case 'MigrationQueued':
      return { ...base, status: 'queued', attempt: e.data.attempt, cap: e.data.cap, reason: e.data.reason };
    case 'DestinationChosen': {
      const d = e.data;
      const attempts = [
        ...m.attempts.filter((a) => a.attempt !== d.attempt),
        { attempt: d.attempt, hostId: d.hostId, outcome: 'running' as const, reason: '' },
      ];
      const { progress: _drop, ...rest } = base;
      return {
        ...rest,
        attempts,
        status: 'destination-chosen',
        attempt: d.attempt,
        destination: { hostId: d.hostId, generation: d.generation, claim: d.claim },
      };
    }
    case 'DestinationClaimed':
      if (!dest) return { ...m, version };
      return {
        ...base,
        status: 'destination-claimed',
        attempt,
        destination: { ...dest, hypervisorUri: e.data.hypervisorUri, generation: e.data.generation },
      };
    case 'MigrationCopyStarted':
    case 'ResumeRequested':
      return dest ? { ...base, status: 'migrating', attempt, destination: dest } : { ...m, version };
    case 'MigrationProgressed':
      return { ...m, version, progress: e.data.progress };
    case 'SwitchedOver':
      return dest ? { ...base, status: 'switched-over', attempt, destination: dest } : { ...m, version };
    case 'SourceReleased':
      return { ...m, version };
    case 'MigrationCompleted':
      return { ...base, attempts: setAttempt(m.attempts, attempt, { outcome: 'completed' }), status: 'completed', hostId: e.data.hostId };
    case 'AttemptFailed': {
      const d = e.data;
      const failed = { outcome: 'failed' as const, reason: d.reason, ...(d.hostId !== undefined ? { hostId: d.hostId } : {}) };
      const attempts = m.attempts.some((a) => a.attempt === d.attempt)
        ? setAttempt(m.attempts, d.attempt, failed)
        : [...m.attempts, { attempt: d.attempt, ...failed }];
      const cancelling = m.status === 'aborting';
      const then: AfterRelease = cancelling ? 'abort' : d.attempt < m.core.policy.maxAttempts ? 'retry' : 'fail';
      const reason = cancelling ? m.reason : d.reason;
      return dest
        ? { ...base, attempts, status: 'releasing-destination', attempt, destination: dest, reason, then }
        : { ...base, attempts, status: 'requested', attempt };
    }
    case 'DestinationReleased':
      return { ...m, version };
    case 'RetryScheduled':
      return { ...base, status: 'retry-waiting', attempt: e.data.attempt, notBefore: e.data.notBefore };
    case 'MigrationFailed':
      return { ...base, status: 'failed', reason: e.data.reason };
    case 'CancelRequested':
      return dest ? { ...base, status: 'aborting', attempt, destination: dest, reason: e.data.reason } : { ...m, version };
    case 'MigrationAborted':
      return {
        ...base,
        attempts: m.attempts.map((a) => (a.outcome === 'running' ? { ...a, outcome: 'aborted' as const, reason: e.data.reason } : a)),
        status: 'aborted',
        reason: e.data.reason,
      };
    case 'ExecutorProbed': {
      const d = e.data;
      const probe: ProbeRecord = { at: d.at, outcome: d.outcome, detail: d.detail, silentMillis: d.silentMillis };
      const attempts = m.attempts.map((a) => (a.attempt === d.attempt ? { ...a, probes: [...(a.probes ?? []), probe] } : a));
      return { ...m, version, attempts };
    }
    case 'PostCopyPaused':
      return dest ? { ...base, status: 'postcopy-paused', attempt, destination: dest, detail: e.data.detail } : { ...m, version };
    default:
      return unreachable(e);
  }
}

export const foldMigration = (events: readonly MigrationEvent[]): Migration => events.reduce(evolveMigration, initialMigration());
