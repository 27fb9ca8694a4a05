/**
 * The event catalog: for every published event type of every service, the current schema version,
 * its zod schema, and the upcasters that bring older versions up to it. Consumers check every event
 * against it at their edge (libs/messaging's startConsumer), so a handler only ever sees data of the
 * current version that passed its schema. docs/events.md ("Versions, validation and dead letters").
 */
import { z } from 'zod';

/** Turns data of version `n` into data of version `n + 1` (pure; throws when it cannot). */
export type Upcaster = (data: unknown) => unknown;

export interface EventDefinition<T = unknown> {
  /** The version producers write and handlers receive. */
  readonly version: number;
  readonly schema: z.ZodType<T>;
  /** `upcasters[n]` maps version n to n + 1, for every n from the oldest readable version to version - 1. */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
  /**
   * Names events of this type were written under before it was renamed (docs/events.md, "Renamed
   * events"): an event of a former name reads as this type, its data upcast from the version it was
   * written at. Logs and streams of existing installations still hold them.
   */
  readonly formerNames?: readonly string[];
}

/** Definitions of one service's events, by type. */
export type ServiceEvents<M> = { readonly [K in keyof M]: EventDefinition<M[K]> };

/** Service name (the `<service>` of `berth.<service>.…` subjects) → event type → definition. */
export type EventCatalog = Readonly<Record<string, Readonly<Record<string, EventDefinition>>>>;

/** `type` is the current name (differs from the one asked for when that is a former name). */
export type DecodedEvent =
  | { readonly ok: true; readonly type: string; readonly data: unknown; readonly upcastFrom?: number }
  | { readonly ok: false; readonly reason: string };

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '(data)' : i.path.join('.')}: ${i.message}`)
    .join('; ');
}

/**
 * Each schema's compiled form (zod's `z.compile`: one generated function per schema that checks the
 * whole tree and builds the same output), made on its first use and kept per schema object. On data
 * it refuses, the compiled schema runs the ordinary parser, so the issues (and the reasons built from
 * them) are zod's own. `z.compile` came with zod 4.6 (the package's lowest version).
 */
const compiled = new WeakMap<z.ZodType, z.ZodType>();
function compiledSchema<T>(schema: z.ZodType<T>): z.ZodType<T> {
  let c = compiled.get(schema);
  if (c === undefined) {
    c = z.compile(schema);
    compiled.set(schema, c);
  }
  return c as z.ZodType<T>;
}

type ServiceDefinitions = Readonly<Record<string, EventDefinition>>;
const formerIndex = new WeakMap<ServiceDefinitions, ReadonlyMap<string, string>>();

/** The current name and definition of `type` in one service's events, `type` current or former. */
function lookup(events: ServiceDefinitions, type: string): { readonly type: string; readonly def: EventDefinition } | undefined {
  if (Object.hasOwn(events, type)) return { type, def: events[type]! };
  let former = formerIndex.get(events);
  if (former === undefined) {
    former = new Map(Object.entries(events).flatMap(([current, def]) => (def.formerNames ?? []).map((old) => [old, current] as const)));
    formerIndex.set(events, former);
  }
  const current = former.get(type);
  return current === undefined ? undefined : { type: current, def: events[current]! };
}

/**
 * Reads `data` of `service`'s event `type` written at `version`: a former name read as the current
 * type, upcast to the current version, then checked against its schema. Unknown services, types and
 * versions are refused with a reason.
 */
export function decodeEvent(catalog: EventCatalog, service: string, type: string, version: number, data: unknown): DecodedEvent {
  const events = Object.hasOwn(catalog, service) ? catalog[service] : undefined;
  if (events === undefined) return { ok: false, reason: `unknown service "${service}"` };
  const found = lookup(events, type);
  if (found === undefined) return { ok: false, reason: `unknown event type ${service}/${type}` };
  const def = found.def;
  // The type as the checks below name it: the current name, the one written when it is a former one.
  if (found.type !== type) type = `${found.type} (written as ${type})`;
  if (!Number.isInteger(version) || version < 1 || version > def.version)
    return { ok: false, reason: `unknown schema version ${version} of ${type} (this consumer reads up to ${def.version})` };
  let value = data;
  for (let v = version; v < def.version; v++) {
    const up = def.upcasters?.[v];
    if (up === undefined) return { ok: false, reason: `no upcaster from version ${v} of ${type} (current ${def.version})` };
    try {
      value = up(value);
    } catch (e) {
      return { ok: false, reason: `upcasting ${type} from version ${v} failed: ${e instanceof Error ? e.message : String(e)}` };
    }
  }
  const parsed = compiledSchema(def.schema).safeParse(value);
  if (!parsed.success) return { ok: false, reason: `invalid ${type} v${def.version} data: ${describe(parsed.error)}` };
  return version === def.version
    ? { ok: true, type: found.type, data: parsed.data }
    : { ok: true, type: found.type, data: parsed.data, upcastFrom: version };
}

/** What a log holds of an event: enough to bring it up to date. */
export interface VersionedEvent {
  readonly type: string;
  readonly schemaVersion: number;
  readonly data: unknown;
}

/** How an event store of one service writes and reads its events against the catalog (the store's `evolution` option). */
export interface StoredEventEvolution {
  /** The version appends of `type` are written at when they do not say (1 for types the catalog does not know). */
  readonly currentVersion: (type: string) => number;
  /**
   * An event read from the log, as current: written under a former name or at an older version, it
   * comes out as the current type and version, through the same definitions consumers use; anything
   * else passes untouched (types the catalog does not know are the service's private ones). An old
   * event that cannot be brought up to date throws: the log holds something this code cannot fold.
   */
  readonly upcast: <E extends VersionedEvent>(e: E) => E;
}

export function storedEventEvolution(catalog: EventCatalog, service: string): StoredEventEvolution {
  const events = catalog[service];
  if (events === undefined) throw new Error(`unknown service "${service}"`);
  return {
    currentVersion: (type) => (Object.hasOwn(events, type) ? events[type]!.version : 1),
    upcast: (e) => {
      const found = lookup(events, e.type);
      if (found === undefined || (found.type === e.type && e.schemaVersion === found.def.version)) return e;
      const d = decodeEvent(catalog, service, e.type, e.schemaVersion, e.data);
      if (!d.ok) throw new Error(`stored ${service} event ${e.type} v${e.schemaVersion} cannot be read: ${d.reason}`);
      return { ...e, type: d.type, schemaVersion: found.def.version, data: d.data };
    },
  };
}

/** `types` of `service` with the names they had before (a consumer asking for a type also gets events written under its former names). */
export function withFormerNames(catalog: EventCatalog, service: string, types: readonly string[]): string[] {
  const events = catalog[service];
  if (events === undefined) return [...types];
  return [...types, ...types.flatMap((t) => (Object.hasOwn(events, t) ? (events[t]!.formerNames ?? []) : []))];
}

/** The current version of an event type, for producers (1 when the catalog does not know it). */
export function currentVersion(catalog: EventCatalog, service: string, type: string): number {
  return catalog[service]?.[type]?.version ?? 1;
}
