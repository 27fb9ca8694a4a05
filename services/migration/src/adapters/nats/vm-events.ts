import type { ConsumerTuning } from '@berth/config';
import type { NatsConnection } from '@nats-io/transport-node';
import type { EventEnvelope } from '@berth/contracts';
import { ack, consumerDefinition, startConsumer, type ConsumeResult, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';

export const VM_EVENTS_DURABLE = 'migration-vm-events';

/**
 * Inventory's VM events, for the drains' kept VMs (adapters/evacuation/evacuee-cache.ts). Every event
 * is acknowledged at once: applying one is a lookup in memory, and a record an event cannot update is
 * marked stale and read again from inventory, so nothing here is worth a redelivery. Events of one VM
 * are handled in order (the consumer's key is the stream).
 */
export function startVmEventsConsumer(o: {
  nc: NatsConnection;
  prefix?: string;
  /** NATS_CONSUMER_TUNING: settings of this durable over infra/nats/consumers.json. */
  tuning?: Readonly<Record<string, ConsumerTuning>> | undefined;
  apply: (env: EventEnvelope) => void;
  logger: Logger;
}): Promise<RunningConsumer> {
  return startConsumer({
    nc: o.nc,
    ...(o.prefix ? { prefix: o.prefix } : {}),
    ...consumerDefinition(VM_EVENTS_DURABLE, o.tuning),
    concurrency: 16,
    logger: o.logger,
    handle: async (env): Promise<ConsumeResult> => {
      o.apply(env);
      return ack();
    },
  });
}
