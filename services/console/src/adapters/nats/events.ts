import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { subjectName } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { ConsoleEvent } from '../../api.ts';

/** The event subjects the console shows (dead letters are not operator news; samples and controls are not events). */
const SUBJECTS = ['berth.inventory.>', 'berth.scheduler.>', 'berth.executor.>', 'berth.migration.>', 'berth.telemetry.>'];

/**
 * Follows every Berth event as it is published, with plain NATS subscriptions: the console shows news
 * from now on and keeps no position and no state, so it needs no JetStream consumer. That is also
 * what the read-only `reader` user it signs in as may do (docs/security.md): subscribe to `berth.>`,
 * never pull from a consumer.
 */
export function followEvents(
  nc: NatsConnection,
  prefix: string | undefined,
  onEvent: (e: ConsoleEvent) => void,
  logger: Logger,
): () => Promise<void> {
  const subs: Subscription[] = SUBJECTS.map((s) =>
    nc.subscribe(subjectName(s, prefix), {
      callback: (err, m) => {
        if (err) {
          logger.warn({ subject: s, err: err.message }, 'console: event subscription failed');
          return;
        }
        try {
          const body = m.json<{ type?: string; streamId?: string; occurredAt?: string; data?: unknown }>();
          onEvent({
            subject: prefix ? m.subject.slice(prefix.length + 1) : m.subject,
            type: body.type ?? m.subject.split('.').at(-1) ?? '',
            streamId: body.streamId ?? '',
            occurredAt: body.occurredAt ?? '',
            data: body.data ?? null,
          });
        } catch (e) {
          logger.warn(
            { subject: m.subject, err: e instanceof Error ? e.message : String(e) },
            'console: an event that is not JSON was skipped',
          );
        }
      },
    }),
  );
  return async () => {
    for (const s of subs) s.unsubscribe();
    await Promise.resolve();
  };
}
