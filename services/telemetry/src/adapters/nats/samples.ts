import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import { eventSchemas, telemetry } from '@berth/contracts';
import { subjectName } from '@berth/messaging';
import type { Logger } from '@berth/observability';

const sampleSchema = eventSchemas.hostSampleSchema;
const CAPABILITIES = ['hostMemory', 'ksmStats', 'ksmRun', 'ksmTune', 'cpuTune', 'ioTune', 'balloon'] as const;

const isObject = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);
const isNonEmpty = (x: unknown): boolean => typeof x === 'string' && x.length > 0;
/** `statValues` takes a record with an own `__proto__` key out of its copy: such a sample goes through the schema. */
const isStats = (x: unknown): boolean => eventSchemas.isStatRecord(x) && !Object.hasOwn(x, '__proto__');

/**
 * A sample as the executors send it, checked in one pass without copying: true only for what
 * `hostSampleSchema` accepts and returns unchanged (its objects are loose: keys it does not name pass
 * through in its copy as they are here). Anything else goes through the schema, which decides and names
 * the issue. The schema copies the message and each of its ~50 guest entries and builds a result per
 * field, a share of the service's busy time and of its garbage at 200 host samples/s.
 * `samples.unit.spec` holds it to the schema.
 */
export function isWellFormedSample(m: unknown): m is telemetry.HostSampleMessage {
  if (!isObject(m) || m['v'] !== 1 || !isNonEmpty(m['hostId']) || typeof m['at'] !== 'string') return false;
  const caps = m['capabilities'];
  if (!isObject(caps)) return false;
  for (const k of CAPABILITIES) if (typeof caps[k] !== 'boolean') return false;
  if (caps['hostFiles'] !== undefined && typeof caps['hostFiles'] !== 'boolean') return false;
  if (!isStats(m['host'])) return false;
  const guests = m['guests'];
  if (!Array.isArray(guests)) return false;
  for (let i = 0; i < guests.length; i++) {
    const g: unknown = guests[i];
    if (!isObject(g) || !isNonEmpty(g['vmId']) || !isStats(g['stats'])) return false;
    if (g['ioTune'] !== undefined && !eventSchemas.isDiskIoTuneList(g['ioTune'])) return false;
  }
  return true;
}

/** A parsed message as the service takes it: itself when well-formed, else the schema's answer. */
export function parseSample(raw: unknown): ReturnType<typeof sampleSchema.safeParse> {
  return isWellFormedSample(raw) ? { success: true, data: raw } : sampleSchema.safeParse(raw);
}

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
        parsed = parseSample(m.json());
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
