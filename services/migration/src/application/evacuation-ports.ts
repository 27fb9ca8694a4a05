/**
 * What the evacuation application needs from the world, as small interfaces (adapters implement
 * them: inventory gRPC, the snapshot bucket, the migration aggregate, the Postgres log).
 */
import type { HostState } from '@berth/fit';
import type { HostView } from '@berth/scoring';
import type { EvacuationCommand } from '../domain/evacuation/decide.ts';
import type { MoveOutcome } from '../domain/evacuation/events.ts';
import type { Evacuee, MoveKind } from '../domain/evacuation/model.ts';
import type { Evacuation } from '../domain/evacuation/state.ts';

export interface FleetReader {
  /** The fleet as the KV bucket `berth-host-snapshots` has it, kept up to date (read it synchronously). */
  view(): Promise<HostView>;
  /**
   * The VMs holding claims on a host, with their spec and what they are doing. `follow`: the host is
   * being drained; the reader may keep its VMs between calls (kept fresh from inventory's events) until
   * `unfollow`.
   */
  evacuees(hostId: string, opts?: { readonly follow?: boolean }): Promise<readonly Evacuee[]>;
  /** The drain of the host ended: what was kept for it can go. */
  unfollow?(hostId: string): void;
  /** What was kept of this VM may be wrong (a move of it failed): read it again next time. */
  invalidate?(vmId: string): void;
}

export interface HostControl {
  /** Inventory's SetHostState: `maintenance` with claims left becomes `maintenance-preparing`. */
  setHostState(hostId: string, state: HostState, reason: string): Promise<void>;
}

export interface MoveRequest {
  /** Deterministic per (evacuation, VM, attempt): a retried start creates nothing new. */
  readonly commandId: string;
  readonly vmId: string;
  readonly sourceHostId: string;
  readonly destinationHostId: string;
  readonly kind: MoveKind;
  readonly reason: string;
}

/** The migration aggregate's application API: starts one VM move; its end is reported back through `EvacuationRunner.migrationEnded`. */
export interface StartedMove {
  readonly migrationId: string;
  /**
   * Set when the migration has already ended: a retried start (same command id) answered with a
   * migration that finished meanwhile. Its end was reported before the drain knew of it.
   */
  readonly ended?: { readonly outcome: MoveOutcome; readonly reason: string };
}

export interface MigrationStarter {
  start(request: MoveRequest): Promise<StartedMove>;
  abort(migrationId: string, reason: string): Promise<void>;
}

export interface EvacuationLog {
  read(hostId: string): Promise<Evacuation>;
  /**
   * load -> decide -> append with the expected version (retries conflicts); answers the state after.
   * `known`: the drain as the caller last had it; decided on it and appended at its version without a
   * read first (one round trip), or, when the stream moved on, as without it.
   */
  execute(hostId: string, commandId: string, command: EvacuationCommand, known?: Evacuation): Promise<Evacuation>;
  /** Hosts with a drain under way (running or cancelling), for a restart. */
  active(): Promise<readonly string[]>;
}

export interface Clock {
  now(): number;
}
