import { bad, ok, orThrow, type Parsed } from './result.ts';

/** A PCI address in parts, each lower-case hex as written in the canonical form. */
export interface PciAddress {
  readonly domain: string;
  readonly bus: string;
  readonly slot: string;
  readonly function: string;
}

const PATTERN = /^(?:([0-9a-f]{4}):)?([0-9a-f]{2}):([0-9a-f]{2})\.([0-7])$/i;

/**
 * Berth's one PCI address reader: `0000:01:02.0`, or `02:03.0` when the domain is 0 (seed 003).
 * Slot 00-1f, function 0-7. Case is ignored; the parts come back lower-case.
 */
export function readPciAddress(text: string): Parsed<PciAddress> {
  const m = PATTERN.exec(text.trim());
  const reason = (why: string) => bad<PciAddress>(`malformed PCI address "${text}" (${why})`);
  if (!m) return reason('expected dddd:bb:ss.f or bb:ss.f');
  const [, domain = '0000', bus = '', slot = '', fn = ''] = m.map((p) => p?.toLowerCase());
  if (parseInt(slot, 16) > 0x1f) return reason('slot must be 00-1f');
  return ok({ domain, bus, slot, function: fn });
}

export const formatPciAddress = (a: PciAddress): string => `${a.domain}:${a.bus}:${a.slot}.${a.function}`;

/** The canonical form `dddd:bb:ss.f`, or why the text is not a PCI address. */
export function readCanonicalPciAddress(text: string): Parsed<string> {
  const r = readPciAddress(text);
  return r.ok ? ok(formatPciAddress(r.value)) : r;
}

/** `02:03.0` -> `0000:02:03.0`; throws a ValidationError naming `field` on anything else. */
export function normalizePciAddress(text: string, field = 'address'): string {
  return orThrow(readCanonicalPciAddress(text), field);
}

/** Whether the text is already in canonical form (what a stored or published address must be). */
export const isCanonicalPciAddress = (text: string): boolean => {
  const r = readCanonicalPciAddress(text);
  return r.ok && r.value === text;
};
