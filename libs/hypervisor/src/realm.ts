import { Violations } from '@berth/errors';
import { realmSettingsFromObject, type DriveCache, type RealmSettings } from '@berth/hardware-config';

export type { DriveCache, RealmSettings };

/**
 * The libvirt realm section (seed 003) from a plain object — flat keys such as `drives.cache` or nested
 * `drives: { cache }` — with tiCrypt's defaults; every problem at once, named by its key, as a
 * ValidationError. The one realm reader is @berth/hardware-config's (realm files use it too).
 */
export const parseLibvirtRealm: (input: Readonly<Record<string, unknown>>, field?: string) => RealmSettings = realmSettingsFromObject;

/** tiCrypt's defaults (seed 003) with Berth's pool names. */
export const DEFAULT_REALM: RealmSettings = Object.freeze({
  ...parseLibvirtRealm({}),
  drives: Object.freeze(parseLibvirtRealm({}).drives),
});

/** Rejects a disk the realm does not allow (drives.min-size / drives.max-size). */
export function checkDriveSize(realm: RealmSettings, sizeBytes: number, field: string): void {
  const v = new Violations();
  const { minSizeBytes, maxSizeBytes } = realm.drives;
  if (minSizeBytes !== undefined) v.check(sizeBytes >= minSizeBytes, field, `${sizeBytes} bytes is below drives.min-size ${minSizeBytes}`);
  if (maxSizeBytes !== undefined) v.check(sizeBytes <= maxSizeBytes, field, `${sizeBytes} bytes is above drives.max-size ${maxSizeBytes}`);
  v.throwIfAny();
}
