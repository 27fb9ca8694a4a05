import type { telemetry } from '@berth/contracts';
import type { MomSample } from './ports.ts';

interface HostHistory {
  readonly host: MomSample[];
  readonly guests: Map<string, MomSample[]>;
  /** Each guest's disks' I/O limits as the latest sample had them (not history: MOM reads them from the latest). */
  readonly ioTune: Map<string, readonly telemetry.DiskIoTuneWire[]>;
  capabilities: telemetry.TelemetryCapabilitiesWire;
  lastAtMillis: number;
}

/**
 * Turns a guest's statistics as the executor sent them into the sample the history keeps; it may complete
 * them in place (the message is the history's from then on).
 */
export type GuestSamplePrep = (vmId: string, stats: MomSample) => MomSample;

/**
 * The bounded history MOM keeps (10 samples per entity by default), in memory only: samples are
 * metrics. A guest missing from a host's latest sample is forgotten (it stopped or moved). Guest
 * samples go through `prepare` once, when they arrive (what vdsm adds to each collected sample).
 */
export class SampleHistory {
  private readonly hosts = new Map<string, HostHistory>();
  constructor(
    private readonly length: number,
    private readonly prepare: GuestSamplePrep = (_, stats) => stats,
  ) {}

  add(m: telemetry.HostSampleMessage, atMillis: number): void {
    let h = this.hosts.get(m.hostId);
    if (!h) {
      h = { host: [], guests: new Map(), ioTune: new Map(), capabilities: m.capabilities, lastAtMillis: atMillis };
      this.hosts.set(m.hostId, h);
    }
    h.capabilities = m.capabilities;
    h.lastAtMillis = atMillis;
    push(h.host, m.host, this.length);
    const seen = new Set<string>();
    for (const g of m.guests) {
      seen.add(g.vmId);
      let list = h.guests.get(g.vmId);
      if (!list) {
        list = [];
        h.guests.set(g.vmId, list);
      }
      push(list, this.prepare(g.vmId, g.stats), this.length);
      if (g.ioTune !== undefined) h.ioTune.set(g.vmId, g.ioTune);
      else h.ioTune.delete(g.vmId);
    }
    for (const id of h.guests.keys()) if (!seen.has(id)) h.guests.delete(id);
    for (const id of h.ioTune.keys()) if (!seen.has(id)) h.ioTune.delete(id);
  }

  get(hostId: string): Readonly<HostHistory> | undefined {
    return this.hosts.get(hostId);
  }

  hostIds(): string[] {
    return [...this.hosts.keys()];
  }

  forget(hostId: string): void {
    this.hosts.delete(hostId);
  }

  /** Every host's latest sample and its guests' (for gauges). */
  *latest(): Generator<{ hostId: string; host: MomSample; guests: [string, MomSample][] }> {
    for (const [hostId, h] of this.hosts) {
      const host = h.host.at(-1);
      if (!host) continue;
      const guests: [string, MomSample][] = [];
      for (const [vmId, list] of h.guests) {
        const s = list.at(-1);
        if (s) guests.push([vmId, s]);
      }
      yield { hostId, host, guests };
    }
  }
}

function push<T>(list: T[], item: T, max: number): void {
  list.push(item);
  if (list.length > max) list.splice(0, list.length - max);
}
