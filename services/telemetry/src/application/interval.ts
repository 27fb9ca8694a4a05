/**
 * One interval of one host, pure: MOM policy -> SLA clamp -> controls. The live loop and
 * `ReplayDecision` both run exactly this, so a recorded input and policy give the same controls.
 */
import type { telemetry } from '@berth/contracts';
import { applySla, type Clamp, type GuestSla, type SlaTier } from '../domain/sla/sla.ts';
import type { MomInput, MomOutput, PolicyEngine } from './ports.ts';

type Control = telemetry.Control;

export interface IntervalInput {
  readonly mom: MomInput;
  readonly capabilities: telemetry.TelemetryCapabilitiesWire;
  /** The I/O limits last sent per VM (JSON), so an unchanged io_tune is not sent again. */
  readonly ioTuneApplied: Readonly<Record<string, string>>;
}

export interface IntervalResult {
  readonly ok: boolean;
  readonly error?: string;
  /** Controls as the policy set them (before the SLA clamp). */
  readonly decided: {
    readonly host: Readonly<Record<string, unknown>>;
    readonly guests: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  };
  readonly excludedGuests: readonly string[];
  readonly clamps: readonly Clamp[];
  /** What is sent, in a fixed order (host first, then guests by name). */
  readonly controls: readonly Control[];
  /** Controls the host cannot carry out (declared in its capabilities), left out of `controls`. */
  readonly unsupported: readonly string[];
  /** Memory the balloon targets return to the host (KiB). */
  readonly balloonReliefKib: number;
  /** The policy's own pressure thresholds (`pressure_threshold`, `pressure_critical_threshold`) when it defines them. */
  readonly thresholds: { readonly calm?: number; readonly critical?: number };
}

const KSM: readonly [string, 'run' | 'pagesToScan' | 'sleepMillisecs' | 'mergeAcrossNodes'][] = [
  ['ksm_run', 'run'],
  ['ksm_pages_to_scan', 'pagesToScan'],
  ['ksm_sleep_millisecs', 'sleepMillisecs'],
  ['ksm_merge_across_nodes', 'mergeAcrossNodes'],
];

/** MOM's stock min_balloon_change_percent. */
export const DEFAULT_MIN_CHANGE = 0.0025;

const numberOf = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined);
const byName = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

export function runInterval<S>(engine: PolicyEngine<S>, set: S, input: IntervalInput): IntervalResult {
  const out: MomOutput = engine.evaluate(set, input.mom);
  const decided = { host: out.host ?? {}, guests: out.guests ?? {} };
  if (out.ok !== true) {
    return {
      ok: false,
      error: out.error ?? 'the policy did not complete',
      decided,
      excludedGuests: out.excluded_guests ?? [],
      clamps: [],
      controls: [],
      unsupported: [],
      balloonReliefKib: 0,
      thresholds: {},
    };
  }
  const caps = input.capabilities;
  const controls: Control[] = [];
  const unsupported: string[] = [];
  const hostNow = input.mom.host.at(-1) ?? {};

  // KSM: only what differs from the host's current settings.
  const ksm: { run?: number; pagesToScan?: number; sleepMillisecs?: number; mergeAcrossNodes?: number } = {};
  for (const [mom, key] of KSM) {
    const v = numberOf(decided.host[mom]);
    if (v === undefined || hostNow[mom] === Math.round(v)) continue;
    const allowed = key === 'run' ? caps.ksmRun : caps.ksmTune;
    if (!allowed) unsupported.push(`host ${mom}`);
    else ksm[key] = Math.round(v);
  }
  if (Object.keys(ksm).length > 0) controls.push({ kind: 'ksm', ...ksm });

  const guestsByName = new Map(input.mom.guests.map((g) => [g.name, g]));
  const names = Object.keys(decided.guests)
    .filter((n) => guestsByName.has(n))
    .sort(byName);
  const slas: GuestSla[] = [];
  // MOM's minimum step: the policy's own `min_balloon_change_percent` when it defines one.
  const minChangePercent = numberOf(out.variables?.['min_balloon_change_percent']) ?? DEFAULT_MIN_CHANGE;
  const balloonDecided: Record<string, number> = {};
  for (const name of names) {
    const g = guestsByName.get(name)!;
    const now = g.history.at(-1) ?? {};
    const target = numberOf(decided.guests[name]?.['balloon_target']);
    const cur = now['balloon_cur'];
    const max = now['balloon_max'];
    if (target !== undefined && cur !== undefined && max !== undefined) {
      if (!caps.balloon) {
        unsupported.push(`guest ${name} balloon_target`);
        continue;
      }
      balloonDecided[name] = target;
      slas.push({
        vmId: name,
        tier: tierOf(g.props['sla_tier']),
        priority: numberOf(g.props['priority']) ?? 0,
        curKib: cur,
        maxKib: max,
        minChangePercent,
      });
    }
  }
  const balloon = applySla(slas, balloonDecided);
  let relief = 0;
  for (const name of names) {
    const g = guestsByName.get(name)!;
    const now = g.history.at(-1) ?? {};
    const c = decided.guests[name] ?? {};
    const t = balloon.targets[name];
    if (t !== undefined) {
      controls.push({ kind: 'balloon', vmId: name, targetKib: t });
      relief += Math.max(0, (now['balloon_cur'] ?? t) - t);
    }
    const quota = numberOf(c['vcpu_quota']);
    const period = numberOf(c['vcpu_period']);
    if (quota !== undefined || period !== undefined) {
      const q = Math.round(quota ?? now['vcpu_quota'] ?? -1);
      const p = Math.round(period ?? now['vcpu_period'] ?? 100_000);
      if (q !== now['vcpu_quota'] || p !== now['vcpu_period']) {
        if (!caps.cpuTune) unsupported.push(`guest ${name} vcpu_quota/vcpu_period`);
        else if (p > 0) controls.push({ kind: 'cpuTune', vmId: name, quota: q, period: p });
      }
    }
    for (const io of ioTunesOf(name, c['io_tune'])) {
      const key = `${name}/${io.device}`;
      if (input.ioTuneApplied[key] === JSON.stringify(io)) continue;
      if (!caps.ioTune) unsupported.push(`guest ${name} io_tune`);
      else controls.push(io);
    }
  }
  const calm = numberOf(out.variables?.['pressure_threshold']);
  const critical = numberOf(out.variables?.['pressure_critical_threshold']);
  return {
    ok: true,
    decided,
    excludedGuests: out.excluded_guests ?? [],
    clamps: balloon.clamps,
    controls,
    unsupported,
    balloonReliefKib: relief,
    thresholds: { ...(calm !== undefined ? { calm } : {}), ...(critical !== undefined ? { critical } : {}) },
  };
}

function tierOf(v: unknown): SlaTier {
  return v === 'platinum' || v === 'gold' || v === 'vapor' ? v : 'silver';
}

const IO_KEYS: readonly [string, 'totalBytesSec' | 'readBytesSec' | 'writeBytesSec' | 'totalIopsSec' | 'readIopsSec' | 'writeIopsSec'][] = [
  ['total_bytes_sec', 'totalBytesSec'],
  ['read_bytes_sec', 'readBytesSec'],
  ['write_bytes_sec', 'writeBytesSec'],
  ['total_iops_sec', 'totalIopsSec'],
  ['read_iops_sec', 'readIopsSec'],
  ['write_iops_sec', 'writeIopsSec'],
];

/**
 * MOM's IoTune controller output (`@berth/mom-policy`'s `io_tune` pseudo-control): the disks whose limits
 * the policy changed against `io_tune_current`, each `{name: <device>, path, ioTune: {total_bytes_sec, ...}}`
 * (what vdsm's setIoTune takes). A limit the policy set to None is not sent (libvirt keeps it); anything
 * else is ignored.
 */
function ioTunesOf(vmId: string, v: unknown): Extract<Control, { kind: 'ioTune' }>[] {
  if (!Array.isArray(v)) return [];
  const out: Extract<Control, { kind: 'ioTune' }>[] = [];
  for (const item of v) {
    if (item === null || typeof item !== 'object') continue;
    const rec = item as Record<string, unknown>;
    const device = rec['name'];
    const tune = rec['ioTune'];
    if (typeof device !== 'string' || device === '' || tune === null || typeof tune !== 'object') continue;
    const limits: Partial<Record<(typeof IO_KEYS)[number][1], number>> = {};
    for (const [mom, key] of IO_KEYS) {
      const n = numberOf((tune as Record<string, unknown>)[mom]);
      if (n !== undefined) limits[key] = Math.max(0, Math.round(n));
    }
    if (Object.keys(limits).length > 0) out.push({ kind: 'ioTune', vmId, device, ...limits });
  }
  return out.sort((a, b) => byName(a.device, b.device));
}
