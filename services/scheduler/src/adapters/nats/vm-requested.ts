/**
 * The VmRequested consumer's handler: translate the event, place the VM, and end the message —
 * ack once inventory answered (placed, failed, or no longer pending), nak with jitter when every
 * attempt lost a race (other replicas), term when the payload is malformed. A thrown error
 * (inventory unreachable) is a nak with the consumer's backoff.
 */
import type { EventEnvelope } from '@berth/contracts';
import type { VmSpec } from '@berth/fit';
import { ack, nak, term, type ConsumeContext, type ConsumeResult } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import { placeVm, type PlaceVmDeps, type PlacementRequest } from '../../application/place-vm.ts';

export function parseVmRequested(env: EventEnvelope): PlacementRequest | string {
  const d = env.data as { vmId?: unknown; spec?: Partial<VmSpec>; excludedHosts?: unknown } | null;
  if (typeof d !== 'object' || d === null) return 'data: must be an object';
  if (typeof d.vmId !== 'string' || d.vmId === '') return 'data.vmId: must be a non-empty string';
  const spec = d.spec;
  if (typeof spec !== 'object' || spec === null) return 'data.spec: must be an object';
  if (typeof spec.vcpus !== 'number' || typeof spec.memoryBytes !== 'number') return 'data.spec.vcpus/memoryBytes: must be numbers';
  const excluded = d.excludedHosts ?? [];
  if (!Array.isArray(excluded) || !excluded.every((h) => typeof h === 'string')) return 'data.excludedHosts: must be strings';
  return { requestId: env.id, vm: { ...(spec as VmSpec), vmId: d.vmId }, excludedHosts: excluded };
}

export interface VmRequestedHandlerOptions {
  readonly deps: PlaceVmDeps;
  /** Same as the consumer's maxDeliver: the last delivery reports a failure instead of redelivering. */
  readonly maxDeliver: number;
  readonly isReady: () => boolean;
  readonly logger: Logger;
  readonly random?: () => number;
}

export function vmRequestedHandler(o: VmRequestedHandlerOptions) {
  const random = o.random ?? Math.random;
  return async (env: EventEnvelope, ctx: ConsumeContext): Promise<ConsumeResult> => {
    if (env.type !== 'VmRequested') return ack();
    const req = parseVmRequested(env);
    if (typeof req === 'string') return term(`malformed VmRequested: ${req}`);
    // Deciding on a half-loaded view would fail VMs that fit.
    if (!o.isReady()) return nak(1000);
    const keepAlive = setInterval(() => ctx.working(), 5000);
    try {
      const out = await placeVm(o.deps, req, ctx.deliveryCount >= o.maxDeliver);
      const log = { vmId: req.vm.vmId, delivery: ctx.deliveryCount, ...out };
      switch (out.kind) {
        case 'placed':
        case 'not-pending':
          o.logger.debug(log, `vm ${out.kind}`);
          return ack();
        case 'failed':
          o.logger.info(log, 'vm placement failed');
          return ack();
        case 'contended':
          o.logger.debug(log, 'vm placement contended, redelivering');
          return nak(100 + Math.floor(random() * 900));
        default: {
          const never: never = out;
          throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
        }
      }
    } finally {
      clearInterval(keepAlive);
    }
  };
}
