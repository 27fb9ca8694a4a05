import type { ConsumerTuning } from '@berth/config';
import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import type { EventEnvelope } from '@berth/contracts';
import { ack, consumerDefinition, startConsumer, term, type ConsumeResult, type RunningConsumer } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { EvacuationRunner } from '../../application/evacuations.ts';

export const HOST_STATES_DURABLE = 'migration-host-states';

const hostState = z.enum(['enabled', 'no-scheduling', 'disabled', 'maintenance-preparing', 'maintenance']);
const schema = z.object({ from: hostState, to: hostState, reason: z.string() });

type State = z.output<typeof hostState>;
const inMaintenance = (s: State): boolean => s === 'maintenance-preparing' || s === 'maintenance';

/**
 * What a HostStateChanged asks of the migration service: a host that enters `maintenance-preparing`
 * (an operator set maintenance in inventory and VMs still hold claims) is drained; a host taken out
 * of maintenance (to any other state) while its drain runs has that drain cancelled, keeping the
 * state the operator set. The command id is `host-state:<event id>`, so a redelivery does nothing
 * twice; a drain already under way (started through StartEvacuation, whose own state change comes
 * back here) is joined, not restarted.
 */
export function hostStateAction(
  env: EventEnvelope,
): { hostId: string; from: State } | { hostId: string; left: State } | { error: string } | undefined {
  if (env.type !== 'HostStateChanged') return undefined;
  const p = schema.safeParse(env.data);
  if (!p.success) return { error: `HostStateChanged: ${p.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}` };
  if (!env.streamId.startsWith('host-')) return undefined;
  const hostId = env.streamId.slice('host-'.length);
  if (p.data.to === 'maintenance-preparing') return { hostId, from: p.data.from };
  if (inMaintenance(p.data.from) && !inMaintenance(p.data.to)) return { hostId, left: p.data.to };
  return undefined;
}

export function startHostStatesConsumer(o: {
  nc: NatsConnection;
  prefix?: string;
  /** NATS_CONSUMER_TUNING: settings of this durable over infra/nats/consumers.json. */
  tuning?: Readonly<Record<string, ConsumerTuning>> | undefined;
  evacuations: EvacuationRunner;
  logger: Logger;
}): Promise<RunningConsumer> {
  return startConsumer({
    nc: o.nc,
    ...(o.prefix ? { prefix: o.prefix } : {}),
    ...consumerDefinition(HOST_STATES_DURABLE, o.tuning),
    types: ['HostStateChanged'],
    logger: o.logger,
    handle: async (env): Promise<ConsumeResult> => {
      const a = hostStateAction(env);
      if (a === undefined) return ack();
      if ('error' in a) return term(a.error);
      if ('left' in a) await o.evacuations.leftMaintenance(a.hostId, a.left, `host-state:${env.id}`);
      else await o.evacuations.start(a.hostId, 'operator', `host-state:${env.id}`, true, a.from);
      return ack();
    },
  });
}
