/**
 * Placement requests the scheduler gave up on. When the scheduler's consumer dead-letters a
 * VmRequested (its handler failed or never finished maxDeliver times: inventory out of reach, a
 * replica frozen or killed at each delivery, poison), nothing else would ever move the VM: it would
 * stay REQUESTED for good. Inventory reads those dead letters (`berth.dlq.scheduler-vm-requested`,
 * stream BERTH_DLQ) and fails the VM with a reason that names the dead letter, if that request is
 * still what the VM waits on (docs/reliability.md, "Dead-lettered placement requests").
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { decodeEvent, eventCatalog, inventoryEvents, type EventEnvelope } from '@berth/contracts';
import type { ConsumerTuning } from '@berth/config';
import { IllegalStateError, NotFoundError, ValidationError } from '@berth/errors';
import {
  ack,
  consumerDefinition,
  DeadLetterHeaders,
  startConsumer,
  term,
  type ConsumeContext,
  type RunningConsumer,
} from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { VmCommands } from '../../application/vms.ts';

export const DEAD_REQUESTS_DURABLE = 'inventory-dead-requests';

/** What the VM's failure says: which consumer gave up, after how many deliveries, and why. */
export function deadLetterReason(durable: string, deliveries: string, reason: string): string {
  return `placement request dead-lettered by ${durable} after ${deliveries} deliveries (berth.dlq.${durable}): ${reason}`;
}

/** The handler, apart from NATS (its unit of behaviour: one dead letter in, at most one VM failed). */
export function deadRequestHandler(vms: Pick<VmCommands, 'failDeadLetteredRequest'>, logger: Logger) {
  return async (env: EventEnvelope, ctx: ConsumeContext) => {
    // Dead letters keep the original envelope; the catalog check the scheduler's edge made, made here.
    const decoded = decodeEvent(eventCatalog, inventoryEvents.INVENTORY_SERVICE, env.type, env.schemaVersion, env.data);
    if (!decoded.ok) return term(`poison: ${decoded.reason}`);
    if (decoded.type !== 'VmRequested') return term(`poison: a ${decoded.type} is not a placement request`);
    const vmId = (decoded.data as { vmId: string }).vmId;
    const durable = ctx.header(DeadLetterHeaders.durable) ?? 'scheduler-vm-requested';
    const why = ctx.header(DeadLetterHeaders.reason) ?? 'no reason given';
    const reason = deadLetterReason(durable, ctx.header(DeadLetterHeaders.deliveries) ?? '?', why);
    try {
      const view = await vms.failDeadLetteredRequest({
        commandId: `dead-letter:${env.id}`,
        vmId,
        requestPosition: env.streamPosition,
        reason,
        explanation: {
          summary: reason,
          deadLetter: {
            durable,
            reason: why,
            stream: ctx.header(DeadLetterHeaders.stream),
            streamSequence: Number(ctx.header(DeadLetterHeaders.streamSequence)),
            deliveries: Number(ctx.header(DeadLetterHeaders.deliveries)),
            dlqSequence: ctx.streamSequence,
          },
        },
      });
      logger.warn({ vmId, requestId: env.id, status: view.vm.status, reason }, 'dead-lettered placement request read');
      return ack();
    } catch (e) {
      if (e instanceof NotFoundError || e instanceof ValidationError || e instanceof IllegalStateError) return term(e.message);
      throw e;
    }
  };
}

export function startDeadRequestsConsumer(opts: {
  nc: NatsConnection;
  prefix?: string;
  vms: VmCommands;
  tuning?: Readonly<Record<string, ConsumerTuning>> | undefined;
  logger: Logger;
}): Promise<RunningConsumer> {
  return startConsumer({
    nc: opts.nc,
    ...consumerDefinition(DEAD_REQUESTS_DURABLE, opts.tuning),
    ...(opts.prefix ? { prefix: opts.prefix } : {}),
    // A dead letter's subject names the consumer, not the event: the envelope is checked by the handler.
    events: false,
    logger: opts.logger,
    handle: deadRequestHandler(opts.vms, opts.logger),
  });
}
