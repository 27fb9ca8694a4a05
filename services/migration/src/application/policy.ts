import type { migrationEvents } from '@berth/contracts';
import { Violations } from '@berth/errors';

export type Policy = migrationEvents.MigrationPolicy;

/** A policy with some fields set: per request (the VM's own) or per resource pool. */
export type PolicyOverrides = { -readonly [K in keyof Policy]?: Policy[K] };

/**
 * The effective policy: the request's values, then the VM's resource pool's, then the defaults
 * (KubeVirt: 150 s per GiB, 150 s without progress; post-copy off; oVirt: 3 attempts).
 */
export function resolvePolicy(defaults: Policy, pool: PolicyOverrides | undefined, request: PolicyOverrides): Policy {
  return { ...defaults, ...strip(pool ?? {}), ...strip(request) };
}

const strip = (o: PolicyOverrides): PolicyOverrides => Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined));

/** Checks a request's overrides, naming every bad field (`policy.maxAttempts`). */
export function checkPolicy(p: PolicyOverrides, v: Violations, at = 'policy'): void {
  const nonNegative = (value: number | undefined, field: string): void => {
    v.check(value === undefined || (Number.isInteger(value) && value >= 0), `${at}.${field}`, 'must be a whole number >= 0');
  };
  nonNegative(p.maxDowntimeMillis, 'maxDowntimeMillis');
  nonNegative(p.bandwidthMiBps, 'bandwidthMiBps');
  nonNegative(p.completionBudgetSecondsPerGiB, 'completionBudgetSecondsPerGiB');
  nonNegative(p.noProgressTimeoutSeconds, 'noProgressTimeoutSeconds');
  v.check(
    p.maxAttempts === undefined || (Number.isInteger(p.maxAttempts) && p.maxAttempts >= 0 && p.maxAttempts <= 10),
    `${at}.maxAttempts`,
    'must be a whole number 0..10',
  );
}

/** Zero means "not set" on the wire. */
export const unlessZero = (n: number): number | undefined => (n === 0 ? undefined : n);

/** The seed's warning (oVirt 4.3) for high-performance and pinned VMs that move. */
export const HP_WARNING =
  'high-performance or pinned VM: after the migration its performance may decrease (the destination need not offer the same CPUs, NUMA layout or devices)';
