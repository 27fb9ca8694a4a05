import type { FieldViolation } from '@berth/errors';

/**
 * A resource pool's balancing policy. `pack` is oVirt's power saving (empty lightly used hosts),
 * `spread` its evenly-distributed (relieve hosts above the high threshold); `off` is the default.
 */
export type BalancerMode = 'off' | 'pack' | 'spread';

export interface BalancerPolicy {
  readonly pool: string;
  readonly mode: BalancerMode;
  /** Bottleneck load (the larger of CPU and memory, 0..1) above which a host is over-utilised (oVirt: 80%). */
  readonly highThreshold: number;
  /** Below it a host is under-utilised; pack empties such hosts (oVirt: 20%). */
  readonly lowThreshold: number;
  /** A host is over (under) only if every sample in this window is (oVirt's CpuOverCommitDurationMinutes: 2 min). */
  readonly windowSeconds: number;
  /** Moves per run; runs are `intervalSeconds` apart (oVirt: one per pool per minute). */
  readonly maxMovesPerInterval: number;
  readonly intervalSeconds: number;
  /** Minimum predicted improvement of a move (Incus: 20%); see README for what it measures per mode. */
  readonly minImprovement: number;
  /** A VM the balancer moved is not moved again before this (Incus: 6 h). */
  readonly cooldownSeconds: number;
  /**
   * The pressure trigger (0: off, the default): a host whose measured memory use (telemetry's
   * `berth-host-usage`, used/total) stays above this for the whole window — i.e. ballooning did not
   * relieve it — starts a pass at once that moves VMs off it, whatever the mode.
   */
  readonly pressureThreshold: number;
  /**
   * Hysteresis: a host under pressure stays so until its measured memory falls below this; a pressure
   * move never takes a destination above it, so a move can never put another host under pressure.
   */
  readonly pressureClearThreshold: number;
}

export const defaultPolicy = (pool: string): BalancerPolicy => ({
  pool,
  mode: 'off',
  highThreshold: 0.8,
  lowThreshold: 0.2,
  windowSeconds: 120,
  maxMovesPerInterval: 1,
  intervalSeconds: 60,
  minImprovement: 0.2,
  cooldownSeconds: 6 * 3600,
  pressureThreshold: 0,
  pressureClearThreshold: 0.8,
});

const fraction = (v: number): boolean => Number.isFinite(v) && v >= 0 && v <= 1;

/** Every violation at once, naming the field. */
export function validatePolicy(p: BalancerPolicy, prefix = 'policy'): FieldViolation[] {
  const out: FieldViolation[] = [];
  const bad = (field: string, reason: string): void => void out.push({ field: `${prefix}.${field}`, reason });
  if (p.pool.trim() === '') bad('pool', 'must not be empty');
  if (!['off', 'pack', 'spread'].includes(p.mode)) bad('mode', `must be off, pack or spread, got ${String(p.mode)}`);
  if (!fraction(p.highThreshold) || p.highThreshold === 0) bad('highThreshold', `must be in (0, 1], got ${p.highThreshold}`);
  if (!fraction(p.lowThreshold)) bad('lowThreshold', `must be in [0, 1], got ${p.lowThreshold}`);
  else if (fraction(p.highThreshold) && p.lowThreshold >= p.highThreshold)
    bad('lowThreshold', `must be below highThreshold (${p.highThreshold}), got ${p.lowThreshold}`);
  if (!(Number.isFinite(p.minImprovement) && p.minImprovement > 0 && p.minImprovement < 1))
    bad('minImprovement', `must be in (0, 1), got ${p.minImprovement}`);
  for (const f of ['windowSeconds', 'intervalSeconds', 'cooldownSeconds'] as const) {
    if (!Number.isSafeInteger(p[f]) || p[f] < 0) bad(f, `must be a whole number of seconds >= 0, got ${p[f]}`);
  }
  if (!Number.isSafeInteger(p.intervalSeconds) || p.intervalSeconds < 1) {
    if (!out.some((v) => v.field.endsWith('intervalSeconds'))) bad('intervalSeconds', `must be >= 1, got ${p.intervalSeconds}`);
  }
  if (!fraction(p.pressureThreshold)) bad('pressureThreshold', `must be in [0, 1] (0: off), got ${p.pressureThreshold}`);
  if (!fraction(p.pressureClearThreshold) || p.pressureClearThreshold === 0)
    bad('pressureClearThreshold', `must be in (0, 1], got ${p.pressureClearThreshold}`);
  else if (fraction(p.pressureThreshold) && p.pressureThreshold > 0 && p.pressureClearThreshold >= p.pressureThreshold)
    bad('pressureClearThreshold', `must be below pressureThreshold (${p.pressureThreshold}), got ${p.pressureClearThreshold}`);
  if (!Number.isSafeInteger(p.maxMovesPerInterval) || p.maxMovesPerInterval < 1)
    bad('maxMovesPerInterval', `must be a whole number >= 1, got ${p.maxMovesPerInterval}`);
  return out;
}
