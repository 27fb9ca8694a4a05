/**
 * The consumer's edge: before a handler sees an event, its subject, type, schema version and data
 * are checked against the event catalog of @berth/contracts, and data of an older version is
 * upcast to the current one (and a former type name read as the current one). What fails is poison (no retry can fix it): dead-lettered with the reason.
 */
import { decodeEvent, type EventCatalog, type EventEnvelope } from '@berth/contracts';
import { DEFAULT_PROJECT, projectOfSubject } from './names.ts';

export interface EdgeCheck {
  /** The catalog to check against; `undefined`: envelope only (tests of the wrapper itself). */
  readonly catalog: EventCatalog | undefined;
  readonly prefix: string | undefined;
  /** Bodies above this many bytes are dead-lettered unread. */
  readonly maxEventBytes: number;
}

/** Default body limit: half of nats-server's default max_payload (1 MiB). */
export const DEFAULT_MAX_EVENT_BYTES = 512 * 1024;

export type EdgeResult = { readonly ok: true; readonly envelope: EventEnvelope } | { readonly ok: false; readonly reason: string };

/** `t_ab12.berth.inventory.vm.acme.VmPlaced` → { service: 'inventory', type: 'VmPlaced', project: 'acme' }. */
function subjectParts(subject: string, prefix: string | undefined): { service: string; type: string; project?: string } | undefined {
  const bare = prefix && subject.startsWith(`${prefix}.`) ? subject.slice(prefix.length + 1) : subject;
  const tokens = bare.split('.');
  if (tokens[0] !== 'berth' || tokens.length < 3) return undefined;
  const project = projectOfSubject(bare);
  return { service: tokens[1]!, type: tokens.at(-1)!, ...(project === undefined ? {} : { project }) };
}

export function checkEvent(edge: EdgeCheck, subject: string, env: EventEnvelope): EdgeResult {
  if (edge.catalog === undefined) return { ok: true, envelope: env };
  const parts = subjectParts(subject, edge.prefix);
  if (parts === undefined) return { ok: false, reason: `subject ${subject} is not berth.<service>.<streamType>.<EventType>` };
  if (parts.type !== env.type) return { ok: false, reason: `envelope type ${env.type} does not match subject ${subject}` };
  if (parts.project !== undefined && parts.project !== (env.project ?? DEFAULT_PROJECT))
    return { ok: false, reason: `envelope project ${env.project ?? '(none)'} does not match subject ${subject}` };
  const decoded = decodeEvent(edge.catalog, parts.service, env.type, env.schemaVersion, env.data);
  if (!decoded.ok) return { ok: false, reason: decoded.reason };
  // An event published under a former name of its type reaches the handler under the current one.
  const current = edge.catalog[parts.service]?.[decoded.type]?.version ?? env.schemaVersion;
  return { ok: true, envelope: { ...env, type: decoded.type, schemaVersion: current, data: decoded.data } };
}
