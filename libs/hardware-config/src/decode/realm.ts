import { joinKey } from '../errors.ts';
import type { HNode } from '../hocon/nodes.ts';
import type { DriveCache, RealmSettings } from '../model.ts';
import { asBool, asBytes, asDurationMillis, asNonEmptyString, asObject, asString, checkKnown, fail, optional } from './read.ts';

/** Berth's defaults for the tiCrypt realm table (tiCrypt's own pools are ticrypt-vm, ticrypt-vm-drives, ticrypt-bricks). */
export const REALM_DEFAULTS = {
  name: 'libvirt',
  volumesPool: 'berth-vm',
  drivesPool: 'berth-vm-drives',
  bricksPool: 'berth-bricks',
  registrationTimeoutMillis: 5 * 60_000,
  pollFrequencyMillis: 30_000,
} as const;

const KEYS = ['disabled', 'driver', 'name', 'volumes-pool', 'drives-pool', 'bricks-pool', 'log-scheduling',
  'registration-timeout', 'poll-frequency', 'network-filter', 'drives', 'uploads', 'scaling'];
const DRIVE_KEYS = ['lazy-allocation', 'cache', 'min-size', 'max-size'];
const CACHES: readonly DriveCache[] = ['default', 'writethrough', 'writeback', 'none'];

/** The realm parameters, written at the top level of the realm file (or under `berth.realm`). */
export function decodeRealm(node: HNode, key: string): RealmSettings {
  const obj = asObject(node, key, 'the realm settings object');
  checkKnown(obj, key, KEYS); // uploads and scaling are "reserved for future use": accepted, ignored
  const driverNode = obj.fields.get('driver');
  if (driverNode !== undefined) {
    const driver = asString(driverNode, joinKey(key, 'driver')).trim().toLowerCase();
    if (driver !== 'libvirt') fail(driverNode, joinKey(key, 'driver'), `unknown realm driver "${driver}" (only libvirt is supported)`);
  }
  const drivesKey = joinKey(key, 'drives');
  const drives = obj.fields.has('drives') ? asObject(obj.fields.get('drives')!, drivesKey) : undefined;
  if (drives) checkKnown(drives, drivesKey, DRIVE_KEYS);
  const cacheNode = drives?.fields.get('cache');
  const cache = cacheNode === undefined ? 'default' : (asString(cacheNode, joinKey(drivesKey, 'cache')).trim() as DriveCache);
  if (cacheNode !== undefined && !CACHES.includes(cache)) fail(cacheNode, joinKey(drivesKey, 'cache'), `unknown cache strategy "${cache}" (expected one of: ${CACHES.join(', ')})`);
  const minSizeBytes = drives && optional(drives, drivesKey, 'min-size', asBytes);
  const maxSizeBytes = drives && optional(drives, drivesKey, 'max-size', asBytes);
  if (minSizeBytes !== undefined && maxSizeBytes !== undefined && minSizeBytes > maxSizeBytes) {
    fail(drives!.fields.get('max-size')!, joinKey(drivesKey, 'max-size'), `must be at least min-size (${minSizeBytes} bytes)`);
  }
  const positive = (name: string) => {
    const ms = optional(obj, key, name, asDurationMillis);
    if (ms !== undefined && ms <= 0) fail(obj.fields.get(name)!, joinKey(key, name), 'must be longer than zero');
    return ms;
  };
  const networkFilter = optional(obj, key, 'network-filter', asNonEmptyString);
  return {
    disabled: optional(obj, key, 'disabled', asBool) ?? false,
    driver: 'libvirt',
    name: optional(obj, key, 'name', asNonEmptyString) ?? REALM_DEFAULTS.name,
    volumesPool: optional(obj, key, 'volumes-pool', asNonEmptyString) ?? REALM_DEFAULTS.volumesPool,
    drivesPool: optional(obj, key, 'drives-pool', asNonEmptyString) ?? REALM_DEFAULTS.drivesPool,
    bricksPool: optional(obj, key, 'bricks-pool', asNonEmptyString) ?? REALM_DEFAULTS.bricksPool,
    logScheduling: optional(obj, key, 'log-scheduling', asBool) ?? false,
    registrationTimeoutMillis: positive('registration-timeout') ?? REALM_DEFAULTS.registrationTimeoutMillis,
    pollFrequencyMillis: positive('poll-frequency') ?? REALM_DEFAULTS.pollFrequencyMillis,
    ...(networkFilter !== undefined && { networkFilter }),
    drives: {
      lazyAllocation: (drives && optional(drives, drivesKey, 'lazy-allocation', asBool)) ?? true,
      cache,
      ...(minSizeBytes !== undefined && { minSizeBytes }),
      ...(maxSizeBytes !== undefined && { maxSizeBytes }),
    },
  };
}
