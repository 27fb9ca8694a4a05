/**
 * PCI addresses as the seed writes them: `0000:01:02.0`, or `02:03.0` when the domain is 0.
 * Canonical form: lower-case `dddd:bb:ss.f` (slot 00-1f, function 0-7).
 */
export function normalizePciAddress(text: string): string | { readonly reason: string } {
  const m = /^(?:([0-9a-fA-F]{4}):)?([0-9a-fA-F]{2}):([0-9a-fA-F]{2})\.([0-7])$/.exec(text.trim());
  if (!m) return { reason: `malformed PCI address "${text}" (expected dddd:bb:ss.f or bb:ss.f)` };
  if (parseInt(m[3]!, 16) > 0x1f) return { reason: `malformed PCI address "${text}" (slot must be 00-1f)` };
  return `${(m[1] ?? '0000').toLowerCase()}:${m[2]!.toLowerCase()}:${m[3]!.toLowerCase()}.${m[4]}`;
}
