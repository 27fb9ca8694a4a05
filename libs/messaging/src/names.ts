/**
 * Naming of streams, subjects and buckets. Tests isolate themselves on the shared server with a prefix
 * (`testSubjectPrefix()` from @berth/testing, e.g. `t_1a2b3c4d5e`):
 *   stream  BERTH_INVENTORY         -> T_1A2B3C4D5E_BERTH_INVENTORY
 *   subject berth.executor.vm.X     -> t_1a2b3c4d5e.berth.executor.vm.X
 *   bucket  berth-host-snapshots    -> t_1a2b3c4d5e-berth-host-snapshots
 *   durable scheduler-vm-requested  -> unchanged (consumers live inside the prefixed stream)
 */
import { ValidationError } from '@berth/errors';

const PREFIX_RE = /^[A-Za-z0-9_-]+$/;

export function checkPrefix(prefix: string | undefined): void {
  if (prefix !== undefined && prefix !== '' && !PREFIX_RE.test(prefix)) {
    throw new ValidationError({ field: 'prefix', reason: `must match ${PREFIX_RE.source}, got "${prefix}"` });
  }
}

export const streamName = (name: string, prefix?: string): string => (prefix ? `${prefix.toUpperCase()}_${name}` : name);

export const subjectName = (subject: string, prefix?: string): string => (prefix ? `${prefix}.${subject}` : subject);

export const bucketName = (bucket: string, prefix?: string): string => (prefix ? `${prefix}-${bucket}` : bucket);

/** Subject a dead letter of `durable` goes to (before prefixing). */
export const deadLetterSubject = (durable: string): string => `berth.dlq.${durable}`;

/** `vm-7f3c...` -> `vm`; the stream type is the stream id up to its first '-'. */
export function streamTypeOf(streamId: string): string {
  const i = streamId.indexOf('-');
  return i <= 0 ? streamId : streamId.slice(0, i);
}

/**
 * Stream types whose events carry a project (docs/events.md): their subjects have the project as a
 * token before the type, so NATS permissions and consumer filters can scope a subscriber to one
 * project (docs/security.md, "Per-project readers"). Everything else has no project token.
 */
export const PROJECT_SCOPED: Readonly<Record<string, readonly string[]>> = { inventory: ['vm', 'project'] };

/** What an event of a project-scoped stream that names no project belongs to (events recorded before projects). */
export const DEFAULT_PROJECT = 'default';

export const isProjectScoped = (service: string, streamType: string): boolean => PROJECT_SCOPED[service]?.includes(streamType) ?? false;

/**
 * The subject an event of `service` is published on: `berth.<service>.<streamType>.<type>`, or
 * `berth.<service>.<streamType>.<project>.<type>` for a project-scoped stream type
 * (`berth.inventory.vm.acme.VmRequested`). The event type is always the last token.
 */
export function eventSubject(service: string, streamId: string, type: string, project?: string): string {
  const streamType = streamTypeOf(streamId);
  return isProjectScoped(service, streamType)
    ? `berth.${service}.${streamType}.${project ?? DEFAULT_PROJECT}.${type}`
    : `berth.${service}.${streamType}.${type}`;
}

/**
 * The subjects, within a wildcard filter like `berth.inventory.vm.>` or `berth.executor.>`, that carry
 * exactly the given event types (`berth.inventory.vm.*.VmPlaced`, `berth.executor.*.VmStarted`), or
 * undefined when the filter is not `berth.<service>[.<streamType>].>`: then only the type header tells.
 * Under `berth.<service>.>` of a service with project-scoped stream types a type gets both shapes
 * (they never overlap: their lengths differ).
 */
export function typeSubjects(filterSubject: string, types: readonly string[]): string[] | undefined {
  const tokens = filterSubject.split('.');
  if (tokens.at(-1) !== '>' || tokens[0] !== 'berth' || tokens.length < 3 || tokens.length > 4) return undefined;
  const service = tokens[1]!;
  const streamType = tokens[2];
  const shapes =
    streamType === undefined || streamType === '>'
      ? PROJECT_SCOPED[service] === undefined
        ? [`berth.${service}.*`]
        : [`berth.${service}.*`, `berth.${service}.*.*`]
      : [isProjectScoped(service, streamType) ? `berth.${service}.${streamType}.*` : `berth.${service}.${streamType}`];
  return types.flatMap((t) => shapes.map((head) => `${head}.${t}`));
}

/** The project token of a project-scoped event subject (prefix removed), else undefined. */
export function projectOfSubject(bareSubject: string): string | undefined {
  const tokens = bareSubject.split('.');
  return tokens.length === 5 && tokens[0] === 'berth' && isProjectScoped(tokens[1]!, tokens[2]!) ? tokens[3] : undefined;
}
