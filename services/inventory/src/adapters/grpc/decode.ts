import { ValidationError } from '@berth/errors';
import type { inventoryV1 as pb } from '@berth/contracts';

/** Every mutating call names its command, so a retry appends nothing new. */
export function commandId(meta: pb.CommandMeta | undefined): string {
  const id = meta?.commandId ?? '';
  if (id.trim() === '' || id.length > 200)
    throw new ValidationError({ field: 'meta.commandId', reason: 'required (1-200 characters, a UUID recommended)' });
  return id;
}

export function json(text: string, field: string): unknown {
  if (text === '') return {};
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ValidationError({ field, reason: 'must be JSON' });
  }
}

export function required<T>(value: T | undefined, field: string): T {
  if (value === undefined) throw new ValidationError({ field, reason: 'required' });
  return value;
}

/** The scheduler view's log position, both parts or neither. */
export function viewPositionOf(r: pb.ReportPlacementFailedRequest): { viewPosition?: { transactionId: string; position: string } } {
  const t = r.viewTransactionId ?? '';
  const p = r.viewPosition ?? '';
  if (t === '' && p === '') return {};
  const digits = /^\d{1,20}$/;
  if (!digits.test(t))
    throw new ValidationError({ field: 'viewTransactionId', reason: `must be a decimal transaction id with viewPosition, got '${t}'` });
  if (!digits.test(p))
    throw new ValidationError({ field: 'viewPosition', reason: `must be a decimal log position with viewTransactionId, got '${p}'` });
  return { viewPosition: { transactionId: t, position: p } };
}
