import type { NatsConnection } from '@nats-io/transport-node';
import { IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import type { ConsumerTuning } from '@berth/config';
import type { EventEnvelope, executorEvents } from '@berth/contracts';
import { ack, consumerDefinition, startConsumer, term, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { VmCommands } from '../../application/vms.ts';

const OPERATIONS = ['start', 'stop', 'reboot', 'delete'] as const;

export const EXECUTOR_EVENTS_DURABLE = 'inventory-executor-events';

/**
 * The executor reports `VmCommands.recordExecutorEvent` folds into a VM; it answers every other type
 * with nothing to do. Those (VolumesCreated, DomainDefined, DomainStarted, OperationRequested,
 * DomainDriftDetected, UnknownDomainFound: three more per provisioned VM on libvirt) are acknowledged as they
 * arrive, by their type header, without being parsed, traced or queued behind their VM's key.
 */
export const FOLDED_EXECUTOR_EVENTS = [
  'DomainProvisioningStarted',
  'VmStarted',
  'DomainStopped',
  'DomainOperationFailed',
  'DomainProvisionFailed',
  'DomainDeleted',
] as const satisfies readonly executorEvents.ExecutorEventType[];

const str = (data: Record<string, unknown>, key: string): string => (typeof data[key] === 'string' ? data[key] : '');
const dataOf = (env: EventEnvelope): Record<string, unknown> => (env.data ?? {}) as Record<string, unknown>;
/** The VM a report is about ('' for host-stream reports without one). */
const vmIdOf = (env: EventEnvelope): string => str(dataOf(env), 'vmId') || (env.streamId.startsWith('vm-') ? env.streamId.slice(3) : '');

/**
 * Folds the executor's VM reports into the VM aggregate. The command id is derived from the event
 * id, so a redelivery appends nothing. Reports inventory cannot use (unknown VM, bad payload) are
 * dead-lettered; anything else thrown is retried with backoff by the consumer. Reports on different
 * VMs are folded side by side (each waits on a batched append); the reports on one VM, in order.
 */
export function startExecutorEventsConsumer(opts: {
  nc: NatsConnection;
  prefix?: string;
  vms: VmCommands;
  tuning?: Readonly<Record<string, ConsumerTuning>> | undefined;
  logger: Logger;
}): Promise<RunningConsumer> {
  return startConsumer({
    nc: opts.nc,
    // Stream, subjects, deliveries and back-off from infra/nats/consumers.json, NATS_CONSUMER_TUNING over it.
    ...consumerDefinition(EXECUTOR_EVENTS_DURABLE, opts.tuning),
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    logger: opts.logger,
    concurrency: 64,
    types: FOLDED_EXECUTOR_EVENTS,
    orderingKey: (env) => vmIdOf(env) || env.streamId,
    handle: async (env) => {
      const data = dataOf(env);
      const vmId = vmIdOf(env);
      if (!vmId) return ack(); // host-stream reports (unknown domains) are not inventory's to fold
      try {
        const operation = OPERATIONS.find((o) => o === data['operation']);
        const report = { vmId, hostId: str(data, 'hostId'), reason: str(data, 'reason'), ...(operation ? { operation } : {}) };
        await opts.vms.recordExecutorEvent(env.type, report, `executor:${env.id}`);
        return ack();
      } catch (e) {
        if (e instanceof NotFoundError || e instanceof ValidationError || e instanceof IllegalStateError) return term(e.message);
        throw e;
      }
    },
  });
}
