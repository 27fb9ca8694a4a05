/**
 * In-memory implementations of the evacuation ports, for unit tests and the benchmark: a small
 * inventory (hosts, VMs, claims, host states with maintenance semantics) that re-checks every claim
 * with @berth/fit as the real one does, and a log that folds and decides like handleCommand.
 */
import { applyClaim, claimFits, fits, releaseClaim, type Claim, type HostSnapshot, type HostState, type VmSpec } from '@berth/fit';
import { HostView } from '@berth/scoring';
import { decideEvacuation, type EvacuationCommand } from '../domain/evacuation/decide.ts';
import type { EvacuationEvent } from '../domain/evacuation/events.ts';
import type { Evacuee, EvacueeStatus } from '../domain/evacuation/model.ts';
import { evolveEvacuation, initialEvacuation, isActive, type Evacuation } from '../domain/evacuation/state.ts';
import type { EvacuationLog, FleetReader, HostControl } from '../application/evacuation-ports.ts';

export class InMemoryEvacuationLog implements EvacuationLog {
  readonly streams = new Map<string, { state: Evacuation; events: EvacuationEvent[] }>();
  private readonly seen = new Set<string>();

  async read(hostId: string): Promise<Evacuation> {
    return this.streams.get(hostId)?.state ?? initialEvacuation();
  }

  /** `known` changes nothing here: there is no round trip to save. */
  async execute(hostId: string, commandId: string, command: EvacuationCommand, _known?: Evacuation): Promise<Evacuation> {
    const s = this.streams.get(hostId) ?? { state: initialEvacuation(), events: [] };
    if (this.seen.has(commandId)) return s.state;
    const events = decideEvacuation(command, s.state);
    this.seen.add(commandId);
    for (const e of events) {
      s.state = evolveEvacuation(s.state, e);
      s.events.push(e);
    }
    this.streams.set(hostId, s);
    return s.state;
  }

  async active(): Promise<string[]> {
    return [...this.streams].filter(([, s]) => isActive(s.state)).map(([h]) => h);
  }
}

interface VmRecord {
  spec: VmSpec;
  hostId: string;
  status: EvacueeStatus;
}

export class FakeInventory implements FleetReader, HostControl {
  readonly hosts = new Map<string, HostSnapshot>();
  private readonly live = new HostView();
  readonly vms = new Map<string, VmRecord>();
  /** Claims inventory would have refused (must stay 0). */
  overcommitted = 0;
  readonly stateChanges: { hostId: string; from: HostState; to: HostState }[] = [];

  private put(snapshot: HostSnapshot): void {
    this.hosts.set(snapshot.capacity.hostId, snapshot);
    this.live.upsert(snapshot);
  }

  addHost(snapshot: HostSnapshot): void {
    this.put(snapshot);
  }

  removeHost(hostId: string): void {
    this.hosts.delete(hostId);
    this.live.remove(hostId);
  }

  place(hostId: string, spec: VmSpec, status: EvacueeStatus = 'running'): Claim {
    const h = this.hosts.get(hostId)!;
    const r = fits({ ...h, capacity: { ...h.capacity, state: 'enabled' } }, spec);
    if (!r.ok) throw new Error(`${spec.vmId} does not fit on ${hostId}`);
    this.put(applyClaim(h, r.claim));
    this.vms.set(spec.vmId, { spec, hostId, status });
    return r.claim;
  }

  async view(): Promise<HostView> {
    return this.live;
  }

  async evacuees(hostId: string): Promise<Evacuee[]> {
    const h = this.hosts.get(hostId);
    if (!h) return [];
    return h.claims.map((claim) => {
      const vm = this.vms.get(claim.vmId)!;
      return { spec: vm.spec, claim, status: vm.status };
    });
  }

  private setState(hostId: string, to: HostState): void {
    const h = this.hosts.get(hostId)!;
    if (h.capacity.state === to) return;
    this.stateChanges.push({ hostId, from: h.capacity.state, to });
    this.put({ ...h, generation: h.generation + 1, capacity: { ...h.capacity, state: to } });
  }

  async setHostState(hostId: string, state: HostState, _reason: string): Promise<void> {
    const h = this.hosts.get(hostId)!;
    this.setState(hostId, state === 'maintenance' && h.claims.length > 0 ? 'maintenance-preparing' : state);
  }

  stop(vmId: string): void {
    this.vms.get(vmId)!.status = 'stopped';
  }

  /** The destination claim (taken before any data moves), as inventory's ClaimResources. */
  claimDestination(vmId: string, destinationHostId: string): Claim | string {
    const vm = this.vms.get(vmId)!;
    const dest = this.hosts.get(destinationHostId)!;
    const r = fits(dest, vm.spec);
    if (!r.ok) return r.reasons.map((x) => x.detail).join('; ');
    if (claimFits(dest, r.claim).length > 0) this.overcommitted++;
    this.put(applyClaim(dest, r.claim));
    vm.status = 'migrating';
    return r.claim;
  }

  /** After the switch-over: the source claim is released (and the host may reach maintenance). */
  switchOver(vmId: string, destinationHostId: string, wasRunning: boolean): void {
    const vm = this.vms.get(vmId)!;
    const source = vm.hostId;
    this.put(releaseClaim(this.hosts.get(source)!, vmId));
    vm.hostId = destinationHostId;
    vm.status = wasRunning ? 'running' : 'stopped';
    const s = this.hosts.get(source)!;
    if (s.capacity.state === 'maintenance-preparing' && s.claims.length === 0) this.setState(source, 'maintenance');
  }

  /** A failed or aborted move: the destination claim goes, the VM stays on the source. */
  rollBack(vmId: string, destinationHostId: string, wasRunning: boolean): void {
    this.put(releaseClaim(this.hosts.get(destinationHostId)!, vmId));
    this.vms.get(vmId)!.status = wasRunning ? 'running' : 'stopped';
  }
}
