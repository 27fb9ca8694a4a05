import type { NatsConnection } from '@nats-io/transport-node';
import { z } from 'zod';
import { telemetry } from '@berth/contracts';
import { subjectName } from '@berth/messaging';
import type { ControlPort } from '../../application/ports.ts';

const replySchema = z.object({
  v: z.literal(1),
  results: z.array(
    z.union([z.object({ ok: z.literal(true) }), z.object({ ok: z.literal(false), error: z.string(), unsupported: z.boolean() })]),
  ),
});

/** Controls go to the executor owning the host as a request on `berth.controls.<hostId>`. */
export function natsControls(nc: NatsConnection, opts: { prefix?: string; timeoutMillis: number }): ControlPort {
  return {
    async send(req) {
      const failAll = (error: string): telemetry.ControlReply => ({
        v: 1,
        results: req.controls.map(() => ({ ok: false, error, unsupported: false })),
      });
      try {
        const m = await nc.request(subjectName(`${telemetry.CONTROLS_SUBJECT}.${req.hostId}`, opts.prefix), JSON.stringify(req), {
          timeout: opts.timeoutMillis,
        });
        const parsed = replySchema.safeParse(m.json());
        if (!parsed.success) return failAll(`malformed reply: ${parsed.error.issues[0]?.message ?? ''}`);
        return parsed.data;
      } catch (e) {
        return failAll(e instanceof Error ? e.message : String(e));
      }
    },
  };
}
