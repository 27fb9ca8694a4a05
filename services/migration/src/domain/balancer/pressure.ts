import type { LoadSample } from './model.ts';
import type { BalancerPolicy } from './policy.ts';

export interface PressureReading {
  readonly pressured: boolean;
  readonly reason: string;
}

const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

/**
 * The pressure trigger's hysteresis for one host, from its measured samples (oldest first; memory =
 * used/total as telemetry measures it). A host enters pressure when the samples cover the whole
 * window and every one in it is above `pressureThreshold` (ballooning had the window to relieve it
 * and did not); it leaves only when the latest falls below `pressureClearThreshold`; in between it
 * stays as it was. No samples (telemetry silent): not under pressure. Pure.
 */
export function pressureOf(was: boolean, samples: readonly LoadSample[], now: number, policy: BalancerPolicy): PressureReading {
  if (policy.pressureThreshold <= 0) return { pressured: false, reason: 'the pressure trigger is off' };
  const latest = samples[samples.length - 1];
  if (!latest) return { pressured: false, reason: 'no measured usage' };
  if (was) {
    return latest.memory < policy.pressureClearThreshold
      ? { pressured: false, reason: `memory ${pct(latest.memory)} fell below ${pct(policy.pressureClearThreshold)}` }
      : { pressured: true, reason: `memory ${pct(latest.memory)}, not yet below ${pct(policy.pressureClearThreshold)}` };
  }
  const since = now - policy.windowSeconds * 1000;
  const covered = policy.windowSeconds === 0 || samples[0]!.at <= since;
  const inWindow = samples.filter((s) => s.at >= since);
  if (inWindow.length === 0) inWindow.push(latest);
  if (!inWindow.every((s) => s.memory > policy.pressureThreshold))
    return { pressured: false, reason: `memory ${pct(latest.memory)}, not above ${pct(policy.pressureThreshold)} over the window` };
  if (!covered)
    return { pressured: false, reason: `above ${pct(policy.pressureThreshold)}, but for less than the ${policy.windowSeconds} s window` };
  return {
    pressured: true,
    reason: `memory above ${pct(policy.pressureThreshold)} for ${policy.windowSeconds} s (now ${pct(latest.memory)})`,
  };
}

/** A pressure pass runs when some host of the pool is under pressure, at most once per interval. */
export function pressurePassDue(pressured: number, lastPassAt: number | undefined, now: number, policy: BalancerPolicy): boolean {
  return pressured > 0 && (lastPassAt === undefined || now - lastPassAt >= policy.intervalSeconds * 1000);
}
