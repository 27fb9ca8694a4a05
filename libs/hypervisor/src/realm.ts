import { parseBytes, parseDuration } from '@berth/config';
import { Violations } from '@berth/errors';
import type { DriveCache, RealmSettings } from '@berth/hardware-config';

export type { DriveCache, RealmSettings };

const CACHES: readonly DriveCache[] = ['default', 'writethrough', 'writeback', 'none'];
const KNOWN = new Set([
  'disabled', 'driver', 'name', 'volumes-pool', 'drives-pool', 'bricks-pool', 'log-scheduling', 'registration-timeout',
  'poll-frequency', 'network-filter', 'drives.lazy-allocation', 'drives.cache', 'drives.min-size', 'drives.max-size',
  'uploads', 'scaling',
]);

/** tiCrypt's defaults (seed 003) with Berth's pool names. */
export const DEFAULT_REALM: RealmSettings = Object.freeze({
  disabled: false,
  driver: 'libvirt',
  name: 'libvirt',
  volumesPool: 'berth-vm',
  drivesPool: 'berth-vm-drives',
  bricksPool: 'berth-bricks',
  logScheduling: false,
  registrationTimeoutMillis: 5 * 60_000,
  pollFrequencyMillis: 30_000,
  drives: Object.freeze({ lazyAllocation: true, cache: 'default' as const }),
});

/**
 * Validates a libvirt realm section as seed 003 writes it (flat keys such as `drives.cache`,
 * or nested `drives: { cache }`), filling in the defaults. Every problem is reported at once,
 * named by its key, as a ValidationError.
 */
export function parseLibvirtRealm(input: Readonly<Record<string, unknown>>, field = 'realm'): RealmSettings {
  const flat: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(input)) {
    if (k === 'drives' && v !== null && typeof v === 'object') {
      for (const [dk, dv] of Object.entries(v as Record<string, unknown>)) flat[`drives.${dk}`] = dv;
    } else flat[k] = v;
  }
  const v = new Violations();
  for (const k of Object.keys(flat)) v.check(KNOWN.has(k), `${field}.${k}`, 'is not a libvirt realm setting');
  const str = (k: string, def: string): string => {
    const x = flat[k];
    if (x === undefined) return def;
    if (typeof x !== 'string' || x.trim() === '') {
      v.add(`${field}.${k}`, 'must be a non-empty string');
      return def;
    }
    return x.trim();
  };
  const bool = (k: string, def: boolean): boolean => {
    const x = flat[k];
    if (x === undefined) return def;
    if (x === true || x === 'on' || x === 'true' || x === 'yes') return true;
    if (x === false || x === 'off' || x === 'false' || x === 'no') return false;
    v.add(`${field}.${k}`, `must be on or off, got ${JSON.stringify(x)}`);
    return def;
  };
  const guarded = <T>(k: string, parse: () => T, def: T): T => {
    try {
      return parse();
    } catch (e) {
      v.add(`${field}.${k}`, e instanceof Error ? e.message : String(e));
      return def;
    }
  };
  const duration = (k: string, def: number): number => {
    const x = flat[k];
    if (x === undefined) return def;
    const ms = guarded(k, () => (typeof x === 'number' ? x : parseDuration(typeof x === 'string' ? x : JSON.stringify(x), `${field}.${k}`)), def);
    if (!(ms > 0)) v.add(`${field}.${k}`, 'must be a positive duration');
    return ms;
  };
  const size = (k: string): number | undefined => {
    const x = flat[k];
    if (x === undefined) return undefined;
    return guarded(k, () => parseBytes(typeof x === 'number' ? x : typeof x === 'string' ? x : JSON.stringify(x), `${field}.${k}`), undefined);
  };
  const driver = str('driver', 'libvirt').toLowerCase();
  // The seed spells it "Livbirt"; accept that typo rather than reject a real tiCrypt file.
  v.check(driver === 'libvirt' || driver === 'livbirt', `${field}.driver`, `must be libvirt, got "${driver}"`);
  const cache = str('drives.cache', 'default') as DriveCache;
  v.check(CACHES.includes(cache), `${field}.drives.cache`, `must be one of ${CACHES.join(', ')}, got "${cache}"`);
  const minSizeBytes = size('drives.min-size');
  const maxSizeBytes = size('drives.max-size');
  if (minSizeBytes !== undefined && maxSizeBytes !== undefined) {
    v.check(minSizeBytes <= maxSizeBytes, `${field}.drives.min-size`, 'must not exceed drives.max-size');
  }
  const networkFilter = flat['network-filter'] === undefined ? undefined : str('network-filter', '');
  const settings: RealmSettings = {
    disabled: bool('disabled', DEFAULT_REALM.disabled),
    driver: 'libvirt',
    name: str('name', DEFAULT_REALM.name),
    volumesPool: str('volumes-pool', DEFAULT_REALM.volumesPool),
    drivesPool: str('drives-pool', DEFAULT_REALM.drivesPool),
    bricksPool: str('bricks-pool', DEFAULT_REALM.bricksPool),
    logScheduling: bool('log-scheduling', DEFAULT_REALM.logScheduling),
    registrationTimeoutMillis: duration('registration-timeout', DEFAULT_REALM.registrationTimeoutMillis),
    pollFrequencyMillis: duration('poll-frequency', DEFAULT_REALM.pollFrequencyMillis),
    ...(networkFilter !== undefined ? { networkFilter } : {}),
    drives: {
      lazyAllocation: bool('drives.lazy-allocation', DEFAULT_REALM.drives.lazyAllocation),
      cache,
      ...(minSizeBytes !== undefined ? { minSizeBytes } : {}),
      ...(maxSizeBytes !== undefined ? { maxSizeBytes } : {}),
    },
  };
  v.throwIfAny();
  return Object.freeze(settings);
}

/** Rejects a disk the realm does not allow (drives.min-size / drives.max-size). */
export function checkDriveSize(realm: RealmSettings, sizeBytes: number, field: string): void {
  const v = new Violations();
  const { minSizeBytes, maxSizeBytes } = realm.drives;
  if (minSizeBytes !== undefined) v.check(sizeBytes >= minSizeBytes, field, `${sizeBytes} bytes is below drives.min-size ${minSizeBytes}`);
  if (maxSizeBytes !== undefined) v.check(sizeBytes <= maxSizeBytes, field, `${sizeBytes} bytes is above drives.max-size ${maxSizeBytes}`);
  v.throwIfAny();
}
