/**
 * `@berth/config/units`: the one reader for each kind of value operators write — sizes, durations,
 * PCI addresses. Pure (no I/O, no zod), so domain libraries may import it. Each kind comes in two
 * forms: `readX` returns `{ ok, value } | { ok: false, reason }` for callers that report positions
 * themselves (the HOCON reader), `parseX` throws a ValidationError naming the field.
 */
export { type Parsed } from './result.ts';
export { readBytes, parseBytes } from './bytes.ts';
export { readDuration, parseDuration } from './duration.ts';
export {
  readPciAddress,
  readCanonicalPciAddress,
  normalizePciAddress,
  formatPciAddress,
  isCanonicalPciAddress,
  type PciAddress,
} from './pci.ts';
