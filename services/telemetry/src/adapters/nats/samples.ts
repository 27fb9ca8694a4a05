import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { eventSchemas, telemetry } from '@berth/contracts';
import { subjectName } from '@berth/messaging';
import type { Logger } from '@berth/observability';

const sampleSchema = eventSchemas.hostSampleSchema;

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
