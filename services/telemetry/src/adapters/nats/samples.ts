import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { z } from 'zod';
import { telemetry } from '@berth/contracts';
import { subjectName } from '@berth/messaging';
import type { Logger } from '@berth/observability';

const stats = z.record(z.string(), z.number());
const sampleSchema = z.object({
  v: z.literal(1),
  hostId: z.string().min(1),
  at: z.string(),
  capabilities: z.object({
    hostMemory: z.boolean(),
    ksmStats: z.boolean(),
    ksmRun: z.boolean(),
    ksmTune: z.boolean(),
    cpuTune: z.boolean(),
    ioTune: z.boolean(),
    balloon: z.boolean(),
  }),
  host: stats,
  guests: z.array(z.object({ vmId: z.string().min(1), stats })),
});

/**
 * Follows `berth.samples.*` (core NATS: samples are metrics, nothing is stored or acknowledged).
 * A malformed sample is counted and logged (once a minute at most) and dropped.
 */
export function subscribeSamples(
  nc: NatsConnection,
  opts: { prefix?: string; logger: Logger; onSample: (s: telemetry.HostSampleMessage) => void },
): { stop(): Promise<void>; readonly rejected: () => number } {
  const sub: Subscription = nc.subscribe(subjectName(`${telemetry.SAMPLES_SUBJECT}.*`, opts.prefix));
  let rejected = 0;
  let lastWarn = 0;
  const done = (async () => {
    for await (const m of sub) {
      let parsed: ReturnType<typeof sampleSchema.safeParse>;
      try {
        parsed = sampleSchema.safeParse(m.json());
      } catch {
        parsed = sampleSchema.safeParse(undefined);
      }
      if (!parsed.success) {
        rejected++;
        if (Date.now() - lastWarn > 60_000) {
          lastWarn = Date.now();
          opts.logger.warn(
            { subject: m.subject, issue: parsed.error.issues[0]?.message, path: parsed.error.issues[0]?.path.join('.') },
            'malformed sample dropped',
          );
        }
        continue;
      }
      opts.onSample(parsed.data);
    }
  })();
  return {
    rejected: () => rejected,
    async stop() {
      sub.unsubscribe();
      await done;
    },
  };
}
