import type { evacuationEvents } from '@berth/contracts';
import type { FieldViolation } from '@berth/errors';

/** A resource pool's balancing policy (documented with its fields in @berth/contracts, where it is recorded). */
export type BalancerMode = evacuationEvents.BalancerMode;
export type BalancerPolicy = evacuationEvents.BalancerPolicy;

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
