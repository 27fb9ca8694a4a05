/**
 * NATS least privilege (docs/security.md): one user per service and a read-only `reader`, with subject
 * permissions derived from infra/nats/permissions.json, streams.json and consumers.json.
 *
 * Two modes:
 * - `strict` (npm start, docker compose): exact streams, buckets and subjects.
 * - `prefixed` (npm test, scripts/with-infra.ts): tests isolate themselves with a prefix that becomes part of
 *   stream and bucket names (`T_<P>_BERTH_INVENTORY`, `KV_<p>-berth-host-snapshots`), and NATS wildcards
 *   match whole tokens only, so there a stream or bucket token is `*`; event subjects keep their service
 *   (`berth.inventory.>` and `*.berth.inventory.>`) and durables their names. The security tests run a
 *   server of their own in `strict` mode.
 */
import { readFileSync } from 'node:fs';
import { ValidationError } from '@berth/errors';
import { CONSUMERS_FILE, loadNatsDefinitions, type ConsumerDefinition, type NatsDefinitions } from './definitions.ts';

export const PERMISSIONS_FILE = new URL('../../../infra/nats/permissions.json', import.meta.url);

export type NatsAuthMode = 'strict' | 'prefixed';

export interface ServiceNatsGrants {
  readonly publishes: readonly string[];
  readonly durables?: readonly string[];
  readonly kvWrite?: readonly string[];
  readonly kvRead?: readonly string[];
  readonly corePublish?: readonly string[];
  readonly coreSubscribe?: readonly string[];
  readonly replies?: boolean;
}

export interface NatsPermissionTable {
  readonly services: Readonly<Record<string, ServiceNatsGrants>>;
  readonly reader: { readonly user: string; readonly subscribe: readonly string[]; readonly streams: readonly string[] };
  /** The template of a per-project reader: `{project}` in `subjects` is replaced by the project's name. */
  readonly projectReader: { readonly userPrefix: string; readonly stream: string; readonly subjects: readonly string[] };
}

/** A user's permissions in nats-server's terms. */
export interface NatsPermissions {
  readonly publish: { readonly allow: readonly string[] };
  readonly subscribe: { readonly allow: readonly string[] };
  readonly allow_responses?: boolean;
}

export function loadPermissionTable(file: URL | string = PERMISSIONS_FILE): NatsPermissionTable {
  const json = JSON.parse(readFileSync(file, 'utf8')) as NatsPermissionTable;
  if (typeof json.services !== 'object' || typeof json.reader !== 'object' || typeof json.projectReader !== 'object')
    throw new Error(`${String(file)}: needs "services", "reader" and "projectReader"`);
  return json;
}

/** The inbox prefix of a user (its replies, JetStream API answers, pull deliveries): only it may subscribe there. */
export const inboxPrefixOf = (publicKey: string): string => `_INBOX_${publicKey}`;

function consumers(file: URL | string = CONSUMERS_FILE): Map<string, ConsumerDefinition> {
  const json = JSON.parse(readFileSync(file, 'utf8')) as { consumers: ConsumerDefinition[] };
  return new Map(json.consumers.map((c) => [c.durable, c]));
}

interface Context {
  readonly mode: NatsAuthMode;
  readonly defs: NatsDefinitions;
  readonly durables: Map<string, ConsumerDefinition>;
}

const token = (ctx: Context, name: string): string => (ctx.mode === 'prefixed' ? '*' : name);
const subjects = (ctx: Context, s: string): string[] => (ctx.mode === 'prefixed' ? [s, `*.${s}`] : [s]);

/**
 * Stream and bucket definitions: looked up only (ensureStreams on start finds them as provisioned and
 * writes nothing). Creating, updating, deleting or purging a stream is the administrator's step
 * (provisionNats), never a service's.
 */
function definitionGrants(ctx: Context): string[] {
  const names = [...ctx.defs.streams.map((s) => s.name), ...ctx.defs.kv.map((k) => `KV_${k.bucket}`)];
  return ['$JS.API.INFO', ...unique(names.map((n) => `$JS.API.STREAM.INFO.${token(ctx, n)}`))];
}

/**
 * Its own event streams' messages by sequence: a relay resuming from its checkpoint reads back the
 * newest ids it published (newestMessageIds), so it does not publish them again.
 */
function ownStreamGrants(ctx: Context, publishes: readonly string[]): string[] {
  return ctx.defs.streams
    .filter((s) => s.subjects.some((subject) => publishes.includes(subject)))
    .map((s) => `$JS.API.STREAM.MSG.GET.${token(ctx, s.name)}`);
}

function durableGrants(ctx: Context, durable: string): string[] {
  const def = ctx.durables.get(durable);
  if (def === undefined) throw new Error(`infra/nats/permissions.json names durable "${durable}", which consumers.json does not define`);
  const s = token(ctx, def.stream);
  return [
    `$JS.API.CONSUMER.CREATE.${s}.${durable}`,
    `$JS.API.CONSUMER.CREATE.${s}.${durable}.>`,
    `$JS.API.CONSUMER.DURABLE.CREATE.${s}.${durable}`,
    `$JS.API.CONSUMER.INFO.${s}.${durable}`,
    `$JS.API.CONSUMER.MSG.NEXT.${s}.${durable}`,
    `$JS.ACK.${s}.${durable}.>`,
    ...subjects(ctx, `berth.dlq.${durable}`),
  ];
}

function kvReadGrants(ctx: Context, bucket: string): string[] {
  const k = token(ctx, `KV_${bucket}`);
  return [
    `$JS.API.DIRECT.GET.${k}`,
    `$JS.API.DIRECT.GET.${k}.>`,
    `$JS.API.STREAM.MSG.GET.${k}`,
    // watch: an ordered consumer of the bucket's stream, made and dropped by the client
    `$JS.API.CONSUMER.CREATE.${k}`,
    `$JS.API.CONSUMER.CREATE.${k}.>`,
    `$JS.API.CONSUMER.INFO.${k}.>`,
    `$JS.API.CONSUMER.DELETE.${k}.>`,
    `$JS.API.CONSUMER.MSG.NEXT.${k}.>`,
    `$JS.FC.${k}.>`,
  ];
}

const unique = (xs: readonly string[]): string[] => [...new Set(xs)];

/** The permissions of service `name`, whose inbox prefix is `inbox`. */
export function servicePermissions(
  name: string,
  inbox: string,
  opts: { mode: NatsAuthMode; table?: NatsPermissionTable; defs?: NatsDefinitions; consumersFile?: URL | string },
): NatsPermissions {
  const table = opts.table ?? loadPermissionTable();
  const g = table.services[name];
  if (g === undefined) throw new Error(`no NATS permissions for service "${name}" in infra/nats/permissions.json`);
  const ctx: Context = { mode: opts.mode, defs: opts.defs ?? loadNatsDefinitions(), durables: consumers(opts.consumersFile) };
  const publish = [
    ...definitionGrants(ctx),
    ...g.publishes.flatMap((s) => subjects(ctx, s)),
    ...ownStreamGrants(ctx, g.publishes),
    ...(g.durables ?? []).flatMap((d) => durableGrants(ctx, d)),
    ...(g.kvWrite ?? []).map((b) => `$KV.${token(ctx, b)}.>`),
    ...(g.kvRead ?? []).flatMap((b) => kvReadGrants(ctx, b)),
    ...(g.corePublish ?? []).flatMap((s) => subjects(ctx, s)),
  ];
  const subscribe = [`${inbox}.>`, ...(g.coreSubscribe ?? []).flatMap((s) => subjects(ctx, s))];
  return { publish: { allow: unique(publish) }, subscribe: { allow: unique(subscribe) }, ...(g.replies ? { allow_responses: true } : {}) };
}

/**
 * The read-only external subscriber: plain subscriptions to `berth.>`, stream lookups and ephemeral
 * consumers (the subject without a consumer name: the server refuses a durable name there) that
 * deliver to its inbox without acks. No publish elsewhere, no durable, no ack, no stream change.
 */
export function readerPermissions(inbox: string, opts: { mode: NatsAuthMode; table?: NatsPermissionTable }): NatsPermissions {
  const table = opts.table ?? loadPermissionTable();
  const ctx = { mode: opts.mode } as Context;
  const streams = unique(table.reader.streams.map((s) => token(ctx, s)));
  return {
    publish: {
      allow: [
        '$JS.API.INFO',
        '$JS.API.STREAM.NAMES',
        ...streams.flatMap((s) => [`$JS.API.STREAM.INFO.${s}`, `$JS.API.STREAM.MSG.GET.${s}`, `$JS.API.CONSUMER.CREATE.${s}`]),
      ],
    },
    subscribe: { allow: unique([`${inbox}.>`, '_INBOX.>', ...table.reader.subscribe.flatMap((s) => subjects(ctx, s))]) },
  };
}

/** Project names are DNS labels (inventory's rule), so a name is one NATS subject token with no wildcard. */
const PROJECT_RE = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkProjectName(project: string, field = 'project'): void {
  if (!PROJECT_RE.test(project))
    throw new ValidationError({ field, reason: `must be a project name (${PROJECT_RE.source}), got "${project}"` });
}

/** The NATS user of project `project`'s reader: `reader-<project>`. */
export const projectReaderUser = (project: string, table: NatsPermissionTable = loadPermissionTable()): string =>
  `${table.projectReader.userPrefix}${project}`;

/**
 * The read-only subscriber of one project: the events whose subject carries that project
 * (`berth.inventory.vm.<project>.<Type>`, `berth.inventory.project.<project>.<Type>`, names.ts), live
 * through plain subscriptions, and history through push consumers it creates with the filter in the
 * API subject (`$JS.API.CONSUMER.CREATE.<stream>.<name>.<filter>`, nats-server >= 2.10): the server
 * refuses a request whose body's filter differs from the subject's, so the permission on the subject
 * is a permission on the filter. No stream info or message get (they would show other projects'
 * subjects and messages), no pull (`MSG.NEXT` names a consumer, possibly someone else's), no ack.
 */
export function projectReaderPermissions(
  project: string,
  inbox: string,
  opts: { mode: NatsAuthMode; table?: NatsPermissionTable },
): NatsPermissions {
  checkProjectName(project);
  const table = opts.table ?? loadPermissionTable();
  const ctx = { mode: opts.mode } as Context;
  const own = table.projectReader.subjects.map((s) => s.replaceAll('{project}', project));
  const filters = own.map((s) => s.replace(/\.\*$/, '.>'));
  const stream = token(ctx, table.projectReader.stream);
  return {
    publish: {
      allow: unique(['$JS.API.INFO', ...filters.flatMap((f) => subjects(ctx, f).map((pf) => `$JS.API.CONSUMER.CREATE.${stream}.*.${pf}`))]),
    },
    subscribe: { allow: unique([`${inbox}.>`, ...own.flatMap((s) => subjects(ctx, s))]) },
  };
}
