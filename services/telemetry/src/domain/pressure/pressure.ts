/**
 * Vapor VMs under critical pressure (seed 002: "Vapor VMs can be powered off based on resource
 * availability"). One host stream `host-<hostId>` records each power-off with its reason and each
 * restart. Pure: the application passes what the latest sample and the clamped balloon targets say.
 */
export interface PoweredOff {
  readonly vmId: string;
  readonly priority: number;
  readonly at: string;
  readonly reason: string;
}

export interface VmPoweredOffForPressure {
  readonly hostId: string;
  readonly vmId: string;
  readonly priority: number;
  readonly reason: string;
  /** mem_free / mem_available when decided, and what ballooning could have made of it. */
  readonly freeFraction: number;
  readonly projectedFreeFraction: number;
  readonly decisionId: string;
}

export interface VmRestartedAfterPressure {
  readonly hostId: string;
  readonly vmId: string;
  readonly reason: string;
  readonly calmForMillis: number;
}

export type PressureEvent =
  | { readonly type: 'VmPoweredOffForPressure'; readonly data: VmPoweredOffForPressure }
  | { readonly type: 'VmRestartedAfterPressure'; readonly data: VmRestartedAfterPressure };

export interface HostPressureState {
  /** Powered off by telemetry and not started again yet, by vmId. */
  readonly poweredOff: ReadonlyMap<string, PoweredOff>;
}

export const initialPressureState = (): HostPressureState => ({ poweredOff: new Map() });

export function evolvePressure(s: HostPressureState, e: PressureEvent, at = ''): HostPressureState {
  const next = new Map(s.poweredOff);
  switch (e.type) {
    case 'VmPoweredOffForPressure':
      next.set(e.data.vmId, { vmId: e.data.vmId, priority: e.data.priority, at, reason: e.data.reason });
      break;
    case 'VmRestartedAfterPressure':
      next.delete(e.data.vmId);
      break;
    default: {
      const never: never = e;
      return never;
    }
  }
  return { poweredOff: next };
}

export interface PressureThresholds {
  /** Free fraction below which the host is at critical pressure (MOM's stock critical level: 5%). */
  readonly critical: number;
  /** Free fraction at or above which the host has no pressure (MOM's stock threshold: 20%). */
  readonly calm: number;
  /** How long there must have been no pressure before a powered-off vapor VM is started again. */
  readonly restartAfterMillis: number;
}

export interface AssessPressure {
  readonly hostId: string;
  readonly decisionId: string;
  readonly memAvailableKib: number;
  readonly memFreeKib: number;
  /** What the balloon targets about to be sent would return to the host (KiB, >= 0). */
  readonly balloonReliefKib: number;
  /** Running vapor guests on the host. */
  readonly vapor: readonly { readonly vmId: string; readonly priority: number }[];
  /** Since when (ms) the host has been without pressure, continuously; undefined when it is not. */
  readonly calmSinceMillis: number | undefined;
  readonly nowMillis: number;
  readonly thresholds: PressureThresholds;
}

const byPriorityThenId = (a: { vmId: string; priority: number }, b: { vmId: string; priority: number }): number =>
  a.priority - b.priority || (a.vmId < b.vmId ? -1 : a.vmId > b.vmId ? 1 : 0);

/**
 * At most one action per interval, so the next sample shows its effect: power off the running vapor
 * VM of lowest priority when the host is at critical pressure and ballooning cannot lift it out;
 * start the powered-off one of highest priority once pressure has been gone for `restartAfterMillis`.
 */
export function decidePressure(c: AssessPressure, s: HostPressureState): PressureEvent[] {
  if (c.memAvailableKib <= 0) return [];
  const free = c.memFreeKib / c.memAvailableKib;
  const projected = (c.memFreeKib + c.balloonReliefKib) / c.memAvailableKib;
  if (free < c.thresholds.critical && projected < c.thresholds.critical) {
    const victim = [...c.vapor].filter((v) => !s.poweredOff.has(v.vmId)).sort(byPriorityThenId)[0];
    if (!victim) return [];
    const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
    return [
      {
        type: 'VmPoweredOffForPressure',
        data: {
          hostId: c.hostId,
          vmId: victim.vmId,
          priority: victim.priority,
          decisionId: c.decisionId,
          freeFraction: free,
          projectedFreeFraction: projected,
          reason: `critical memory pressure: ${pct(free)} free (critical below ${pct(c.thresholds.critical)}), ballooning could reach only ${pct(projected)}; vapor VM of lowest priority (${victim.priority}) powered off`,
        },
      },
    ];
  }
  if (c.calmSinceMillis !== undefined && free >= c.thresholds.calm && c.nowMillis - c.calmSinceMillis >= c.thresholds.restartAfterMillis) {
    const next = [...s.poweredOff.values()].sort(byPriorityThenId).at(-1);
    if (!next) return [];
    const calmFor = c.nowMillis - c.calmSinceMillis;
    return [
      {
        type: 'VmRestartedAfterPressure',
        data: {
          hostId: c.hostId,
          vmId: next.vmId,
          calmForMillis: calmFor,
          reason: `no memory pressure for ${Math.round(calmFor / 1000)} s (${(free * 100).toFixed(1)}% free)`,
        },
      },
    ];
  }
  return [];
}
