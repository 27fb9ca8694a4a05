import { jetstream, DeliverPolicy, type ConsumerMessages } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { streamName } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { ConsoleEvent } from '../../api.ts';

/** The event streams the console shows (dead letters are not operator news). */
const STREAMS = ['BERTH_INVENTORY', 'BERTH_SCHEDULER', 'BERTH_EXECUTOR', 'BERTH_MIGRATION', 'BERTH_TELEMETRY'];

/**
 * Follows every Berth event stream with an ordered (ephemeral, server-side stateless for us)
 * consumer from new messages on: the console keeps no position and no state. A stream that does not
 * exist yet (its service has not started) is looked for again every few seconds.
 */
export function followEvents(
  nc: NatsConnection,
  prefix: string | undefined,
  onEvent: (e: ConsoleEvent) => void,
  logger: Logger,
): () => Promise<void> {
  const js = jetstream(nc);
  let stopped = false;
  const open: ConsumerMessages[] = [];
  const follow = async (stream: string): Promise<void> => {
    while (!stopped) {
      try {
        const consumer = await js.consumers.get(streamName(stream, prefix), { deliver_policy: DeliverPolicy.New });
        const messages = await consumer.consume();
        open.push(messages);
        for await (const m of messages) {
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
        }
      } catch (e) {
        if (stopped) return;
        logger.debug({ stream, err: e instanceof Error ? e.message : String(e) }, 'console: stream not followed yet, retrying');
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  };
  const loops = STREAMS.map((s) => follow(s));
  return async () => {
    stopped = true;
    for (const m of open) m.stop();
    await Promise.race([Promise.allSettled(loops), new Promise((r) => setTimeout(r, 2000))]);
  };
}
