import { ValidationError } from '@berth/errors';
import { ConfigFileError, joinKey } from '../errors.ts';
import { mergeField, type HNode, type HObject, type Pos } from '../hocon/nodes.ts';
import type { DriveCache, GuestBoot, RealmSettings } from '../model.ts';
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

const KEYS = [
  'disabled',
  'driver',
  'name',
  'volumes-pool',
  'drives-pool',
  'bricks-pool',
  'log-scheduling',
  'registration-timeout',
  'poll-frequency',
  'network-filter',
  'guest-boot',
  'drives',
  'uploads',
  'scaling',
];
const DRIVE_KEYS = ['lazy-allocation', 'cache', 'min-size', 'max-size'];
const BOOT_KEYS = ['kernel', 'initrd', 'cmdline'];
const CACHES: readonly DriveCache[] = ['default', 'writethrough', 'writeback', 'none'];
// Seed 003's table gives the driver's value as "Livbirt"; a real tiCrypt file may carry that spelling.
const DRIVERS = ['libvirt', 'livbirt'];

/** Problems found while decoding: each read runs on its own, so one bad key does not hide the next. */
class Problems {
  readonly found: ConfigFileError[] = [];
  read<T>(f: () => T): T | undefined {
    try {
      return f();
    } catch (e) {
      if (!(e instanceof ConfigFileError)) throw e;
      this.found.push(e);
      return undefined;
    }
  }
}

/**
 * Berth's one reader of the realm parameters (seed 003), from the tree every format becomes. Every
 * problem is collected; `decodeRealm` (files) throws the first with its file and line, `realmSettingsFromObject`
 * (JSON in an environment variable) throws them all at once.
 */
function decode(node: HNode, key: string, problems: Problems): RealmSettings {
  const obj = asObject(node, key, 'the realm settings object');
  // uploads and scaling are "reserved for future use": accepted, ignored
  problems.read(() => checkKnown(obj, key, KEYS));
  const driverNode = obj.fields.get('driver');
  if (driverNode !== undefined) {
    problems.read(() => {
      const driver = asString(driverNode, joinKey(key, 'driver')).trim().toLowerCase();
      if (!DRIVERS.includes(driver))
        fail(driverNode, joinKey(key, 'driver'), `unknown realm driver "${driver}" (only libvirt is supported)`);
    });
  }
  const drivesKey = joinKey(key, 'drives');
  const drives = obj.fields.has('drives') ? problems.read(() => asObject(obj.fields.get('drives')!, drivesKey)) : undefined;
  if (drives) problems.read(() => checkKnown(drives, drivesKey, DRIVE_KEYS));
  const cache = problems.read(() => {
    const cacheNode = drives?.fields.get('cache');
    if (cacheNode === undefined) return 'default';
    const c = asString(cacheNode, joinKey(drivesKey, 'cache')).trim() as DriveCache;
    if (!CACHES.includes(c))
      fail(cacheNode, joinKey(drivesKey, 'cache'), `unknown cache strategy "${c}" (expected one of: ${CACHES.join(', ')})`);
    return c;
  });
  const minSizeBytes = drives && problems.read(() => optional(drives, drivesKey, 'min-size', asBytes));
  const maxSizeBytes = drives && problems.read(() => optional(drives, drivesKey, 'max-size', asBytes));
  if (minSizeBytes !== undefined && maxSizeBytes !== undefined && minSizeBytes > maxSizeBytes) {
    problems.read(() =>
      fail(drives!.fields.get('max-size')!, joinKey(drivesKey, 'max-size'), `must be at least min-size (${minSizeBytes} bytes)`),
    );
  }
  const positive = (name: string) =>
    problems.read(() => {
      const ms = optional(obj, key, name, asDurationMillis);
      if (ms !== undefined && ms <= 0) fail(obj.fields.get(name)!, joinKey(key, name), 'must be longer than zero');
      return ms;
    });
  const field = <T>(name: string, read: (n: HNode, k: string) => T, within: HObject | undefined = obj, withinKey = key) =>
    within && problems.read(() => optional(within, withinKey, name, read));
  const networkFilter = field('network-filter', asNonEmptyString);
  const guestBoot = obj.fields.has('guest-boot')
    ? problems.read(() => decodeGuestBoot(obj.fields.get('guest-boot')!, joinKey(key, 'guest-boot')))
    : undefined;
  return {
    disabled: field('disabled', asBool) ?? false,
    driver: 'libvirt',
    name: field('name', asNonEmptyString) ?? REALM_DEFAULTS.name,
    volumesPool: field('volumes-pool', asNonEmptyString) ?? REALM_DEFAULTS.volumesPool,
    drivesPool: field('drives-pool', asNonEmptyString) ?? REALM_DEFAULTS.drivesPool,
    bricksPool: field('bricks-pool', asNonEmptyString) ?? REALM_DEFAULTS.bricksPool,
    logScheduling: field('log-scheduling', asBool) ?? false,
    registrationTimeoutMillis: positive('registration-timeout') ?? REALM_DEFAULTS.registrationTimeoutMillis,
    pollFrequencyMillis: positive('poll-frequency') ?? REALM_DEFAULTS.pollFrequencyMillis,
    ...(networkFilter !== undefined && { networkFilter }),
    ...(guestBoot !== undefined && { guestBoot }),
    drives: {
      lazyAllocation: field('lazy-allocation', asBool, drives, drivesKey) ?? true,
      cache: cache ?? 'default',
      ...(minSizeBytes !== undefined && { minSizeBytes }),
      ...(maxSizeBytes !== undefined && { maxSizeBytes }),
    },
  };
}

/** `guest-boot { kernel = /abs/vmlinuz, initrd = /abs/initrd.gz, cmdline = "console=ttyS0" }`: kernel required, paths absolute. */
function decodeGuestBoot(node: HNode, key: string): GuestBoot {
  const boot = asObject(node, key);
  checkKnown(boot, key, BOOT_KEYS);
  const path = (n: HNode, k: string): string => {
    const p = asNonEmptyString(n, k).trim();
    if (!p.startsWith('/')) fail(n, k, `must be an absolute path on the hypervisor host, got "${p}"`);
    return p;
  };
  const kernel = optional(boot, key, 'kernel', path);
  if (kernel === undefined) fail(node, joinKey(key, 'kernel'), 'is required when guest-boot is given');
  const initrd = optional(boot, key, 'initrd', path);
  const cmdline = optional(boot, key, 'cmdline', asString);
  return { kernel, ...(initrd !== undefined && { initrd }), ...(cmdline !== undefined && { cmdline }) };
}

/** The realm parameters, written at the top level of the realm file (or under `berth.realm`). */
export function decodeRealm(node: HNode, key: string): RealmSettings {
  const problems = new Problems();
  const settings = decode(node, key, problems);
  const [first] = problems.found;
  if (first !== undefined) throw first;
  return settings;
}

/**
 * The realm parameters as a plain object (e.g. JSON from an environment variable), keys as seed 003
 * writes them: flat (`drives.cache`) or nested (`drives: { cache }`). Every problem is reported at once,
 * named `field.key`, as one ValidationError; the tiCrypt defaults fill whatever is left out.
 */
export function realmSettingsFromObject(input: Readonly<Record<string, unknown>>, field = 'realm'): RealmSettings {
  const pos: Pos = { file: field, line: 0, col: 0 };
  const problems = new Problems();
  const settings = decode(objectNode(input, pos), field, problems);
  if (problems.found.length > 0) throw new ValidationError(problems.found.map((e) => ({ field: e.key, reason: e.reason })));
  return settings;
}

function objectNode(input: Readonly<Record<string, unknown>>, pos: Pos): HObject {
  const node: HObject = { kind: 'object', fields: new Map(), pos };
  for (const [k, v] of Object.entries(input)) {
    // `drives.cache` is the path drives -> cache, as in the HOCON file.
    const path = k.split('.');
    let value = valueNode(v, pos);
    for (const segment of path.slice(1).reverse()) value = { kind: 'object', fields: new Map([[segment, value]]), pos };
    mergeField(node, path[0]!, value);
  }
  return node;
}

function valueNode(v: unknown, pos: Pos): HNode {
  if (Array.isArray(v)) return { kind: 'array', items: v.map((i) => valueNode(i, pos)), pos };
  if (v !== null && typeof v === 'object') return objectNode(v as Record<string, unknown>, pos);
  if (typeof v === 'string') return { kind: 'scalar', text: v, quoted: true, pos };
  return { kind: 'scalar', text: String(v), quoted: false, pos };
}
