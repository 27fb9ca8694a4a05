import { ValidationError } from '@berth/errors';

/** What a value parser gives back: the value, or why the text is not one (no field name yet). */
export type Parsed<T> = { readonly ok: true; readonly value: T } | { readonly ok: false; readonly reason: string };

export const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
export const bad = <T>(reason: string): Parsed<T> => ({ ok: false, reason });

/** The value, or a ValidationError naming `field` with the reason. */
export function orThrow<T>(parsed: Parsed<T>, field: string): T {
  if (!parsed.ok) throw new ValidationError({ field, reason: parsed.reason });
  return parsed.value;
}
