import { ValidationError, Violations } from '@berth/errors';
import type { ProjectQuota } from './state.ts';

/** Project names: a DNS label (also a NATS subject token and part of a stream id). */
const PROJECT = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;
const IDENTITY_MAX = 180;

export function checkProjectName(name: string, field = 'project'): void {
  if (!PROJECT.test(name))
    throw new ValidationError({ field, reason: `must be 1-63 of [a-z0-9-], starting and ending with a letter or digit, got '${name}'` });
}

/** Identities are URIs such as `spiffe://berth/client/acme` (docs/security.md). */
export function checkIdentity(identity: string, field = 'identity'): void {
  const ok = identity.length > 0 && identity.length <= IDENTITY_MAX && /^[a-z][a-z0-9+.-]*:\/\/\S+$/.test(identity);
  if (!ok)
    throw new ValidationError({
      field,
      reason: `must be an identity URI (e.g. spiffe://berth/client/<name>), at most ${IDENTITY_MAX} characters, got '${identity}'`,
    });
}

const limitOk = (n: number | undefined): boolean => n === undefined || (Number.isSafeInteger(n) && n >= 0);

/** Every limit a non-negative integer (absent: unlimited), device types named. */
export function checkQuota(quota: ProjectQuota, field = 'quota'): void {
  const v = new Violations();
  for (const key of ['vms', 'vcpus', 'memoryBytes'] as const)
    v.check(limitOk(quota[key]), `${field}.${key}`, `must be a non-negative integer or unset (unlimited), got ${quota[key]}`);
  for (const [type, n] of Object.entries(quota.devices)) {
    v.check(type.trim() !== '', `${field}.devices`, 'a device type must be named');
    v.check(limitOk(n), `${field}.devices[${type}]`, `must be a non-negative integer, got ${n}`);
  }
  v.throwIfAny();
}
