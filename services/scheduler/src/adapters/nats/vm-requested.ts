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
import { isLogPosition } from '../../application/view-position.ts';

export function parseVmRequested(env: EventEnvelope): PlacementRequest | string {
  const d = env.data as { vmId?: unknown; spec?: Partial<VmSpec>; excludedHosts?: unknown } | null;
  if (typeof d !== 'object' || d === null) return 'data: must be an object';
  if (typeof d.vmId !== 'string' || d.vmId === '') return 'data.vmId: must be a non-empty string';
  const spec = d.spec;
  if (typeof spec !== 'object' || spec === null) return 'data.spec: must be an object';
  if (typeof spec.vcpus !== 'number' || typeof spec.memoryBytes !== 'number') return 'data.spec.vcpus/memoryBytes: must be numbers';
  const excluded = d.excludedHosts ?? [];
  if (!Array.isArray(excluded) || !excluded.every((h) => typeof h === 'string')) return 'data.excludedHosts: must be strings';
  const logPosition = env.transactionId === undefined ? undefined : { transactionId: env.transactionId, position: env.globalPosition };
  return {
    requestId: env.id,
    vm: { ...(spec as VmSpec), vmId: d.vmId },
    excludedHosts: excluded,
    ...(logPosition && isLogPosition(logPosition) ? { logPosition } : {}),
  };
}

export interface VmRequestedHandlerOptions {
  readonly deps: PlaceVmDeps;
  /** Same as the consumer's maxDeliver: the last delivery reports a failure instead of redelivering. */
  readonly maxDeliver: number;
  readonly isReady: () => boolean;
  readonly logger: Logger;
  readonly random?: () => number;
  /** Shared by the messages in hand (a fresh one by default). */
  readonly keepAlive?: KeepAlive;
}

/** How often a message in hand tells the server it is still being worked on (the consumer's ack wait is 30 s). */
export const KEEP_ALIVE_MILLIS = 5000;

/**
 * Reports progress (`working()`) for every message in hand for KEEP_ALIVE_MILLIS or more, again
 * after each KEEP_ALIVE_MILLIS, so a slow placement is not redelivered meanwhile. One timer for all
 * the messages in hand, not one set and cleared per message (that was ~1% of the scheduler's CPU).
 */
export class KeepAlive {
  private readonly inHand = new Set<{ readonly working: () => void; last: number }>();
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly everyMillis = KEEP_ALIVE_MILLIS) {}

  /** Starts reporting for one message; call the returned function when it has ended. */
  begin(working: () => void): () => void {
    const entry = { working, last: Date.now() };
    this.inHand.add(entry);
    this.timer ??= setInterval(() => this.tick(), Math.max(1, Math.floor(this.everyMillis / 5))).unref();
    return () => {
      this.inHand.delete(entry);
      if (this.inHand.size === 0 && this.timer !== undefined) {
        clearInterval(this.timer);
        this.timer = undefined;
      }
    };
  }

  get size(): number {
    return this.inHand.size;
  }

  private tick(): void {
    const now = Date.now();
    for (const e of this.inHand) {
      if (now - e.last < this.everyMillis) continue;
      e.last = now;
      e.working();
    }
  }
}

export function vmRequestedHandler(o: VmRequestedHandlerOptions) {
  const random = o.random ?? Math.random;
  const keepAlive = o.keepAlive ?? new KeepAlive();
  return async (env: EventEnvelope, ctx: ConsumeContext): Promise<ConsumeResult> => {
    if (env.type !== 'VmRequested') return ack();
    const req = parseVmRequested(env);
    if (typeof req === 'string') return term(`malformed VmRequested: ${req}`);
    // Deciding on a half-loaded view would fail VMs that fit.
    if (!o.isReady()) return nak(1000);
    const ended = keepAlive.begin(() => ctx.working());
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
        case 'view-behind':
          o.logger.info(log, 'no host fits on a view behind the request, redelivering');
          return nak(1000 + Math.floor(random() * 1000));
        default: {
          const never: never = out;
          throw new Error(`unhandled outcome ${JSON.stringify(never)}`);
        }
      }
    } finally {
      ended();
    }
  };
}
