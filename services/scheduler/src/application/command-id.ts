import { hash } from 'node:crypto';

/**
 * A deterministic UUID (v5 layout, SHA-1 of a name) so a redelivered request sends the same
 * command ids and inventory answers a repeated claim as the first time instead of claiming twice.
 */
export function deterministicUuid(name: string): string {
  // One-shot: a Hash object per id (one per claim) cost more than the digest itself.
  const h = hash('sha1', `berth-scheduler:${name}`, 'buffer');
  h[6] = (h[6]! & 0x0f) | 0x50;
  h[8] = (h[8]! & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

export const claimCommandId = (requestId: string, attempt: number): string => deterministicUuid(`claim:${requestId}:${attempt}`);

export const failureCommandId = (requestId: string): string => deterministicUuid(`placement-failed:${requestId}`);
