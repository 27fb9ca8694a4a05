/**
 * Concurrency caps on migrations (KubeVirt's and VDSM's defaults): at most `fleet` at once in the
 * whole fleet, `outboundPerHost` leaving any one host and `inboundPerHost` arriving on it. Pure:
 * the caller passes every migration in flight (manual, evacuation, balancer alike) and serialises
 * admit-then-record, so the caps hold under any interleaving of the three.
 */

export interface MigrationCaps {
  readonly fleet: number;
  readonly outboundPerHost: number;
  readonly inboundPerHost: number;
}

export const DEFAULT_CAPS: MigrationCaps = { fleet: 5, outboundPerHost: 2, inboundPerHost: 2 };

/** A migration holding a slot: from its start until it completes, aborts or fails. */
export interface InFlightMigration {
  readonly vmId: string;
  readonly sourceHostId: string;
  /** Unknown while an automatic destination is still being chosen (it holds fleet and outbound slots only). */
  readonly destinationHostId?: string;
}

export interface MigrationRequest {
  readonly vmId: string;
  readonly sourceHostId: string;
  readonly destinationHostId?: string;
}

export type CapName = 'fleet' | 'outbound' | 'inbound' | 'vm-busy';

/**
 * A refusal's reason names the cap and what holds it ("fleet cap 5 reached", "host h1 has 2 outbound
 * migrations (cap 2)"): a queued migration records it (MigrationQueued) and records again only when it
 * changes, so it says nothing that changes while the same cap stays full.
 */
export type Admission = { readonly admitted: true } | { readonly admitted: false; readonly cap: CapName; readonly reason: string };

/** Counts of the slots in use, kept incrementally by `admitMany`. */
export interface SlotCounts {
  total: number;
  readonly outbound: Map<string, number>;
  readonly inbound: Map<string, number>;
  readonly vms: Set<string>;
}

export function countSlots(inFlight: Iterable<InFlightMigration>): SlotCounts {
  const c: SlotCounts = { total: 0, outbound: new Map(), inbound: new Map(), vms: new Set() };
  for (const m of inFlight) take(c, m);
  return c;
}

function take(c: SlotCounts, m: MigrationRequest): void {
  c.total += 1;
  c.vms.add(m.vmId);
  c.outbound.set(m.sourceHostId, (c.outbound.get(m.sourceHostId) ?? 0) + 1);
  if (m.destinationHostId !== undefined) c.inbound.set(m.destinationHostId, (c.inbound.get(m.destinationHostId) ?? 0) + 1);
}

function check(caps: MigrationCaps, c: SlotCounts, r: MigrationRequest): Admission {
  if (c.vms.has(r.vmId)) return { admitted: false, cap: 'vm-busy', reason: `VM ${r.vmId} already holds a migration slot` };
  if (c.total >= caps.fleet) return { admitted: false, cap: 'fleet', reason: `fleet cap ${caps.fleet} reached` };
  const out = c.outbound.get(r.sourceHostId) ?? 0;
  if (out >= caps.outboundPerHost) {
    return {
      admitted: false,
      cap: 'outbound',
      reason: `host ${r.sourceHostId} has ${out} outbound migrations (cap ${caps.outboundPerHost})`,
    };
  }
  if (r.destinationHostId !== undefined) {
    const inb = c.inbound.get(r.destinationHostId) ?? 0;
    if (inb >= caps.inboundPerHost) {
      return {
        admitted: false,
        cap: 'inbound',
        reason: `host ${r.destinationHostId} has ${inb} inbound migrations (cap ${caps.inboundPerHost})`,
      };
    }
  }
  return { admitted: true };
}

/** May `request` start now, given everything in flight? */
export function admit(caps: MigrationCaps, inFlight: Iterable<InFlightMigration>, request: MigrationRequest): Admission {
  return check(caps, countSlots(inFlight), request);
}

export interface AdmissionRound<R extends MigrationRequest> {
  /** Admitted, in the order given; each counted before the next is checked. */
  readonly admitted: readonly R[];
  /** The others with the cap that held them back. */
  readonly waiting: readonly { readonly request: R; readonly cap: CapName; readonly reason: string }[];
}

/**
 * Admits a queue in its order (callers put high priority first): a request held back by a per-host
 * cap does not stop later ones bound for other hosts; once the fleet cap is full nothing more starts.
 */
export function admitMany<R extends MigrationRequest>(
  caps: MigrationCaps,
  inFlight: Iterable<InFlightMigration>,
  queue: readonly R[],
): AdmissionRound<R> {
  const c = countSlots(inFlight);
  const admitted: R[] = [];
  const waiting: { request: R; cap: CapName; reason: string }[] = [];
  for (const r of queue) {
    const a = check(caps, c, r);
    if (a.admitted) {
      take(c, r);
      admitted.push(r);
    } else {
      waiting.push({ request: r, cap: a.cap, reason: a.reason });
    }
  }
  return { admitted, waiting };
}

export function validateCaps(caps: MigrationCaps): { field: string; reason: string }[] {
  const out: { field: string; reason: string }[] = [];
  for (const [field, v] of Object.entries(caps) as [keyof MigrationCaps, number][]) {
    if (!Number.isSafeInteger(v) || v < 1) out.push({ field, reason: `must be a whole number >= 1, got ${v}` });
  }
  return out;
}
