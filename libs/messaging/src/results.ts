/** How a handled message ends (STYLE.md §6): every message ends in exactly one of these. */
export type ConsumeResult =
  { readonly kind: 'ack' } | { readonly kind: 'nak'; readonly delayMillis: number } | { readonly kind: 'term'; readonly reason: string };

export const ack = (): ConsumeResult => ({ kind: 'ack' });
/** Redeliver after `delayMillis` (counts as a delivery towards maxDeliver). */
export const nak = (delayMillis = 0): ConsumeResult => ({ kind: 'nak', delayMillis });
/** Poison: never redeliver; the message is copied to the dead-letter subject with `reason`. */
export const term = (reason: string): ConsumeResult => ({ kind: 'term', reason });
