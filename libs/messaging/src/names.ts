/**
 * Naming of streams, subjects and buckets. Tests isolate themselves on the shared server with a prefix
 * (`testSubjectPrefix()` from @berth/testing, e.g. `t_1a2b3c4d5e`):
 *   stream  BERTH_INVENTORY         -> T_1A2B3C4D5E_BERTH_INVENTORY
 *   subject berth.inventory.vm.X    -> t_1a2b3c4d5e.berth.inventory.vm.X
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

/** The subject an event of `service` is published on: `berth.<service>.<streamType>.<type>`. */
export const eventSubject = (service: string, streamId: string, type: string): string =>
  `berth.${service}.${streamTypeOf(streamId)}.${type}`;

/**
 * The subjects, within a wildcard filter like `berth.inventory.vm.>` or `berth.executor.>`, that carry
 * exactly the given event types (`berth.inventory.vm.VmPlaced`, `berth.executor.*.VmStarted`), or
 * undefined when the filter is not `berth.<service>[.<streamType>].>`: then only the type header tells.
 */
export function typeSubjects(filterSubject: string, types: readonly string[]): string[] | undefined {
  const tokens = filterSubject.split('.');
  if (tokens.at(-1) !== '>' || tokens[0] !== 'berth' || tokens.length < 3 || tokens.length > 4) return undefined;
  const head = tokens.slice(0, -1);
  while (head.length < 3) head.push('*');
  return types.map((t) => [...head, t].join('.'));
}
