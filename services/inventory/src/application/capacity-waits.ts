/**
 * VMs waiting for capacity (ComposeVm wait_for_capacity_millis), kube-scheduler's unschedulable queue
 * kept in inventory's log: a waiting VM is requested again (RequeueForCapacity, a new VmRequested)
 * when capacity that may fit it appears, and fails once its deadline passes (ExpireCapacityWait).
 *
 * The wake-ups run inside the read-model projection, which reads the log in order: after each batch,
 * every waiting VM is tried (@berth/fit) against each host that gained capacity in it (registered,
 * updated, set back to enabled, a claim released), taking the claim on a copy of the host so one
 * freed slot wakes one VM, not all. A VM whose wait is recorded after capacity came back — the
 * scheduler decided on a view older than that change — is requested again at once: the scheduler
 * reports its view's log position with the failure, and the changes after it are remembered here.
 */
import { applyClaim, fits, type HostSnapshot } from '@berth/fit';
import type { AnyTransaction, StoredEvent } from '@berth/event-store';
import { comparePositions, positionOf, type GlobalPosition } from '@berth/event-store';
import type { inventoryEvents } from '@berth/contracts';
import type { Logger } from '@berth/observability';
import type { Host } from '../domain/host/state.ts';
import type { Vm } from '../domain/vm/state.ts';
import type { VmView } from './vm-view.ts';
import { isStored } from './streams.ts';

type WaitingVm = Extract<Vm, { status: 'waiting-for-capacity' }>;

export interface CapacityWaitsDeps {
  /** The VMs waiting for capacity as of the batch being projected (read inside its transaction). */
  readonly waiting: (trx: AnyTransaction) => Promise<readonly WaitingVm[]>;
  readonly requeue: (i: { commandId: string; vmId: string }) => Promise<VmView>;
  readonly snapshotOf: (h: Host) => HostSnapshot | undefined;
  readonly logger?: Logger;
}

/** Capacity changes remembered for waits recorded late (oldest dropped first). */
const REMEMBERED_CHANGES = 10_000;

/** Events after which a host may take more than before. */
function addsCapacity(e: StoredEvent): boolean {
  switch (e.type) {
    case 'HostRegistered':
    case 'HostUpdated':
    case 'ClaimReleased':
      return true;
    case 'HostStateChanged':
      return isStored(e, 'HostStateChanged') && e.data.to === 'enabled';
    default:
      return false;
  }
}

export class CapacityWaits {
  /** Positions of recent capacity changes, in log order; complete from `since` on. */
  private changes: GlobalPosition[] = [];
  private since: GlobalPosition | undefined;

  constructor(private readonly deps: CapacityWaitsDeps) {}

  /** The projection's batch hook: `hosts` are the batch's hosts as they are after it. */
  readonly afterBatch = async (events: readonly StoredEvent[], hosts: ReadonlyMap<string, Host>, trx: AnyTransaction): Promise<void> => {
    const first = events[0];
    if (first === undefined) return;
    this.since ??= positionOf(first);
    const wake = new Map<string, number>(); // vmId -> the version of the wait being ended (command id)
    const gained = new Set<string>();
    for (const e of events) {
      if (e.streamId.startsWith('host-') && addsCapacity(e)) {
        this.changes.push(positionOf(e));
        gained.add(e.streamId.slice('host-'.length));
      } else if (isStored(e, 'VmPlacementDeferred') && this.changedSince(e.data.viewPosition)) {
        wake.set(e.streamId.slice('vm-'.length), e.streamPosition);
      }
    }
    if (this.changes.length > REMEMBERED_CHANGES) {
      this.changes = this.changes.slice(-REMEMBERED_CHANGES);
      this.since = this.changes[0];
    }
    if (gained.size > 0) {
      const room = [...gained]
        .map((id) => hosts.get(id))
        .map((h) => (h === undefined ? undefined : this.deps.snapshotOf(h)))
        .filter((s): s is HostSnapshot => s !== undefined);
      if (room.length > 0) {
        for (const vm of await this.deps.waiting(trx)) {
          if (wake.has(vm.core.vmId)) continue;
          const i = room.findIndex((snap) => !vm.core.excludedHosts.includes(snap.capacity.hostId) && fits(snap, vm.core.spec).ok);
          if (i < 0) continue;
          const r = fits(room[i]!, vm.core.spec);
          if (r.ok) room[i] = applyClaim(room[i]!, r.claim); // the next VM sees the slot taken
          wake.set(vm.core.vmId, vm.version);
        }
      }
    }
    for (const [vmId, version] of wake) {
      await this.deps.requeue({ vmId, commandId: `capacity-wait:${vmId}:${version}` });
      this.deps.logger?.debug({ vmId }, 'capacity may fit a waiting VM: requested again');
    }
  };

  /** Did capacity grow after the view the scheduler decided on (or can this process not tell)? */
  private changedSince(view: inventoryEvents.LogPosition | undefined): boolean {
    // Without a view position nothing can be told; capacity events still wake the VM (never a loop).
    if (view === undefined) return false;
    if (this.since === undefined || comparePositions(view, this.since) < 0) return true;
    const last = this.changes.at(-1);
    return last !== undefined && comparePositions(last, view) > 0;
  }
}

export interface CapacityDeadlines {
  stop(): void;
}

/** Every `everyMillis`, fails the waiting VMs whose deadline has passed (idempotent per wait). */
export function startCapacityDeadlines(o: {
  readonly waiting: () => Promise<readonly WaitingVm[]>;
  readonly expire: (i: { commandId: string; vmId: string }) => Promise<VmView>;
  readonly everyMillis: number;
  readonly now?: () => Date;
  readonly logger?: Logger;
}): CapacityDeadlines {
  const now = o.now ?? (() => new Date());
  let running = false;
  const sweep = async (): Promise<void> => {
    if (running) return;
    running = true;
    try {
      const t = now().getTime();
      for (const vm of await o.waiting()) {
        const until = vm.core.capacityDeadline;
        if (until === undefined || Date.parse(until) > t) continue;
        await o.expire({ vmId: vm.core.vmId, commandId: `capacity-deadline:${vm.core.vmId}:${vm.version}` });
        o.logger?.info({ vmId: vm.core.vmId, until }, 'capacity wait expired: placement failed');
      }
    } catch (e) {
      o.logger?.warn({ err: e instanceof Error ? e.message : String(e) }, 'capacity deadline sweep failed; retrying next interval');
    } finally {
      running = false;
    }
  };
  const timer = setInterval(() => void sweep(), o.everyMillis);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
