/** Small fakes of the ports for the application's unit tests (pure logic only). */
import { applyClaim, type Claim, type HostSnapshot, type VmSpec } from '@berth/fit';
import type {
  Candidate,
  ClaimOutcome,
  ClaimRequest,
  Decision,
  HostRejection,
  InventoryPort,
  PlacementEngine,
  PlacementFailedReport,
  SnapshotSource,
  SnapshotView,
  WhatIfResult,
} from '../application/ports.ts';

export function host(id: string, cpus: number, generation = 1, claims: Claim[] = []): HostSnapshot {
  return {
    generation,
    claims,
    capacity: {
      hostId: id,
      name: id,
      state: 'enabled',
      resourcePool: 'default',
      tags: [],
      cpuModel: 'x86',
      topology: { sockets: 1, coresPerSocket: cpus, threadsPerCore: 1 },
      cpus,
      memoryBytes: 1 << 30,
      cpuOvercommit: 1,
      memoryOvercommit: 1,
      numaNodes: [],
      sriovNics: [],
      pciDevices: [],
      storagePools: [],
      networks: [],
    },
  };
}

export function vm(id: string, vcpus: number): VmSpec {
  return {
    vmId: id,
    name: id,
    vcpus,
    memoryBytes: 0,
    disks: [],
    devices: [],
    nics: [],
    numaNodes: [],
    cpuPolicy: 'shared',
    passthroughCpu: false,
    highPerformance: false,
    slaTier: 'silver',
    priority: 0,
    tags: [],
    allowedHosts: [],
    affinity: [],
    migrationMode: 'manual-and-automatic',
  };
}

export function claimOf(vmId: string, hostId: string, vcpus: number): Claim {
  return {
    vmId,
    hostId,
    vcpus,
    memoryBytes: 0,
    pinnedCpus: [],
    numaCells: [],
    hugepages: [],
    devices: [],
    vfs: [],
    volumes: [],
    affinityGroups: [],
  };
}

const free = (h: HostSnapshot): number => h.capacity.cpus - h.claims.reduce((s, c) => s + c.vcpus, 0);

/** A plain map; keeps the newer generation. */
export class MapView implements SnapshotView {
  readonly hosts = new Map<string, HostSnapshot>();
  get(hostId: string): HostSnapshot | undefined {
    return this.hosts.get(hostId);
  }
  upsert(s: HostSnapshot): void {
    const current = this.hosts.get(s.capacity.hostId);
    if (current === undefined || current.generation <= s.generation) this.hosts.set(s.capacity.hostId, s);
  }
  applyClaim(claim: Claim): void {
    this.upsert(applyClaim(this.hosts.get(claim.hostId)!, claim));
  }
  remove(hostId: string): void {
    this.hosts.delete(hostId);
  }
  get size(): number {
    return this.hosts.size;
  }
}

/** Packs by vCPUs only: the fullest host that fits wins, ties by id. */
export class FakeEngine implements PlacementEngine {
  constructor(private readonly view: MapView) {}

  decide(spec: VmSpec, opts: { excludedHosts: readonly string[]; alternates: number }): Decision {
    const hosts = [...this.view.hosts.values()];
    const ranked = rankAll(spec, hosts, opts.excludedHosts);
    const [chosen, ...rest] = ranked;
    if (chosen === undefined)
      return { kind: 'failed', summary: `0/${hosts.length} hosts can take ${spec.name}`, detail: { vcpus: hosts.length } };
    return { kind: 'placed', chosen, alternates: rest.slice(0, opts.alternates), summary: `placed ${spec.name} on ${chosen.hostName}` };
  }

  rejections(spec: VmSpec, hostIds: readonly string[], excluded: readonly string[]): HostRejection[] {
    return hostIds.flatMap((hostId) => {
      const h = this.view.hosts.get(hostId);
      if (h === undefined) return [{ hostId, hostName: hostId, reasons: [{ filter: 'unknown', detail: 'no such host' }] }];
      if (excluded.includes(hostId)) return [{ hostId, hostName: h.capacity.name, reasons: [{ filter: 'excluded', detail: 'excluded' }] }];
      return free(h) >= spec.vcpus
        ? []
        : [{ hostId, hostName: h.capacity.name, reasons: [{ filter: 'vcpus', detail: `${free(h)} free` }] }];
    });
  }

  missing(spec: VmSpec, excluded: readonly string[]): { summary: string; detail: unknown } {
    const hosts = [...this.view.hosts.values()];
    return { summary: `${rankAll(spec, hosts, excluded).length}/${hosts.length} hosts can take ${spec.name}`, detail: {} };
  }

  whatIf(spec: VmSpec): WhatIfResult {
    const perHost = [...this.view.hosts.values()].map((h) => ({
      hostId: h.capacity.hostId,
      hostName: h.capacity.name,
      count: Math.floor(free(h) / spec.vcpus),
    }));
    return { total: perHost.reduce((s, p) => s + p.count, 0), perHost };
  }
}

function rankAll(spec: VmSpec, hosts: readonly HostSnapshot[], excluded: readonly string[]): Candidate[] {
  return hosts
    .filter((h) => !excluded.includes(h.capacity.hostId) && free(h) >= spec.vcpus)
    .map((h) => ({
      hostId: h.capacity.hostId,
      hostName: h.capacity.name,
      generation: h.generation,
      claim: claimOf(spec.vmId, h.capacity.hostId, spec.vcpus),
      score: free(h) - spec.vcpus,
      breakdown: { vcpus: free(h) - spec.vcpus },
    }))
    .sort((a, b) => a.score - b.score || a.hostId.localeCompare(b.hostId));
}

/** Inventory that answers from a script of outcomes per host, then claims. */
export class FakeInventory implements InventoryPort {
  readonly claims: ClaimRequest[] = [];
  readonly failures: PlacementFailedReport[] = [];
  constructor(private readonly answers: Record<string, ClaimOutcome[]> = {}) {}

  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    this.claims.push(req);
    return this.answers[req.hostId]?.shift() ?? { kind: 'claimed', generation: req.expectedGeneration + 1 };
  }

  async reportPlacementFailed(req: PlacementFailedReport): Promise<'recorded'> {
    this.failures.push(req);
    return 'recorded';
  }
}

export class FakeSource implements SnapshotSource {
  constructor(readonly hosts: Map<string, HostSnapshot>) {}
  async get(hostId: string): Promise<HostSnapshot | undefined> {
    return this.hosts.get(hostId);
  }
}
