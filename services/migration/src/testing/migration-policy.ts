import type { migrationEvents } from '@berth/contracts';

/**
 * The policy a migration carries under the service's defaults (KubeVirt's: no downtime or bandwidth
 * bound, neither auto-converge nor post-copy, 150 s per GiB and 150 s without progress, three attempts):
 * the specs' fixture.
 */
export const DEFAULT_TEST_POLICY: migrationEvents.MigrationPolicy = {
  maxDowntimeMillis: 0,
  bandwidthMiBps: 0,
  autoConverge: false,
  postCopy: false,
  completionBudgetSecondsPerGiB: 150,
  noProgressTimeoutSeconds: 150,
  maxAttempts: 3,
};
