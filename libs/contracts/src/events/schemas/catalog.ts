/**
 * The event catalog: for every published event type of every service, the current schema version,
 * its zod schema, and the upcasters that bring older versions up to it. Consumers check every event
 * against it at their edge (libs/messaging's startConsumer), so a handler only ever sees data of the
 * current version that passed its schema. docs/events.md ("Versions, validation and dead letters").
 */
import type { z } from 'zod';

/** Turns data of version `n` into data of version `n + 1` (pure; throws when it cannot). */
export type Upcaster = (data: unknown) => unknown;

export interface EventDefinition<T = unknown> {
  /** The version producers write and handlers receive. */
  readonly version: number;
  readonly schema: z.ZodType<T>;
  /** `upcasters[n]` maps version n to n + 1, for every n from the oldest readable version to version - 1. */
  readonly upcasters?: Readonly<Record<number, Upcaster>>;
}

/** Definitions of one service's events, by type. */
export type ServiceEvents<M> = { readonly [K in keyof M]: EventDefinition<M[K]> };

/** Service name (the `<service>` of `berth.<service>.…` subjects) → event type → definition. */
export type EventCatalog = Readonly<Record<string, Readonly<Record<string, EventDefinition>>>>;

export type DecodedEvent =
  { readonly ok: true; readonly data: unknown; readonly upcastFrom?: number } | { readonly ok: false; readonly reason: string };

function describe(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length === 0 ? '(data)' : i.path.join('.')}: ${i.message}`)
    .join('; ');
}

/**
 * Reads `data` of `service`'s event `type` written at `version`: upcast to the current version,
 * then checked against its schema. Unknown services, types and versions are refused with a reason.
 */
export function decodeEvent(catalog: EventCatalog, service: string, type: string, version: number, data: unknown): DecodedEvent {
  const events = Object.hasOwn(catalog, service) ? catalog[service] : undefined;
  if (events === undefined) return { ok: false, reason: `unknown service "${service}"` };
  const def = Object.hasOwn(events, type) ? events[type] : undefined;
  if (def === undefined) return { ok: false, reason: `unknown event type ${service}/${type}` };
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
  const parsed = def.schema.safeParse(value);
  if (!parsed.success) return { ok: false, reason: `invalid ${type} v${def.version} data: ${describe(parsed.error)}` };
  return version === def.version ? { ok: true, data: parsed.data } : { ok: true, data: parsed.data, upcastFrom: version };
}

/** The current version of an event type, for producers (1 when the catalog does not know it). */
export function currentVersion(catalog: EventCatalog, service: string, type: string): number {
  return catalog[service]?.[type]?.version ?? 1;
}
