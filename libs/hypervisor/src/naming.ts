import { createHash } from 'node:crypto';
import { ValidationError } from '@berth/errors';

/**
 * Domain names and UUIDs are functions of the VM id, so a retried or resumed provisioning step
 * always addresses the same domain and libvirt refuses (or redefines) instead of duplicating it.
 */
const VM_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const DOMAIN_PREFIX = 'berth-';
// Fixed namespace so every executor derives the same UUID for the same VM id.
const NAMESPACE = Buffer.from('6d0c7b2e8f1a4c3e9b5d2a7f1e0c4b8a', 'hex');

export function assertVmId(vmId: string, field = 'vmId'): void {
  if (!VM_ID.test(vmId)) {
    throw new ValidationError({
      field,
      reason: `"${vmId}" must be 1-63 characters of letters, digits, '_', '.', '-' starting with a letter or digit`,
    });
  }
}

export function domainName(vmId: string): string {
  assertVmId(vmId);
  return `${DOMAIN_PREFIX}${vmId}`;
}

/** The VM id a domain name belongs to, or undefined for domains Berth did not create. */
export function vmIdOfDomain(name: string): string | undefined {
  if (!name.startsWith(DOMAIN_PREFIX)) return undefined;
  const id = name.slice(DOMAIN_PREFIX.length);
  return VM_ID.test(id) ? id : undefined;
}

/** The VM id itself when it is a UUID, else a name-based (v5-style, SHA-1) UUID of it. */
export function domainUuid(vmId: string): string {
  assertVmId(vmId);
  if (UUID.test(vmId)) return vmId.toLowerCase();
  const h = createHash('sha1').update(NAMESPACE).update(vmId).digest();
  h[6] = ((h[6] ?? 0) & 0x0f) | 0x50;
  h[8] = ((h[8] ?? 0) & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export const volumeName = (vmId: string, diskIndex: number): string => `${domainName(vmId)}-disk${diskIndex}`;
