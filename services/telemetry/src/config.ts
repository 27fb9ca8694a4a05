import { z } from 'zod';
import { consumerTuningShape, grpcSecurityShape, loadConfig, zDuration, zPort, zUrl } from '@berth/config';

const fraction = z.coerce.number().min(0, 'must be >= 0').max(1, 'must be <= 1');

/** Every variable telemetry reads, validated once at start-up (all problems named at once). */
export const telemetryConfigSchema = z.object({
  /** GRPC_HOST and BERTH_TLS_CERT/KEY/CA (docs/security.md). */
  ...grpcSecurityShape,
  /** Settings of telemetry-vm-specs over infra/nats/consumers.json (ack wait, max deliveries, backoff, expires), as JSON. */
  ...consumerTuningShape,
  DATABASE_URL: zUrl(['postgres', 'postgresql']).prefault('postgres://postgres@127.0.0.1:5432/berth_telemetry'),
  NATS_URL: zUrl(['nats', 'tls']).prefault('nats://127.0.0.1:4222'),
  /** The file holding this service's NATS nkey seed (its own user; docs/security.md). Unset: no credentials. */
  NATS_CREDS: z.string().optional(),
  /** Isolates streams, subjects and buckets (tests share one server). */
  NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .optional(),
  TELEMETRY_GRPC_PORT: zPort().prefault('50055'),
  /** How often every host's policy runs (MOM: 10s; vdsm: 15s). */
  TELEMETRY_POLICY_INTERVAL: zDuration().prefault('10s'),
  /** The executor's sample interval (MOM: 5s); a host whose samples are older than 3 intervals is not evaluated. */
  TELEMETRY_SAMPLE_INTERVAL: zDuration().prefault('5s'),
  /** Samples kept per host and guest (MOM: 10). */
  TELEMETRY_HISTORY_LENGTH: z.coerce.number().int().min(1).max(100).prefault('10'),
  /** Free fraction of host memory below which the host is at critical pressure (vapor VMs may be powered off). */
  TELEMETRY_CRITICAL_FREE: fraction.prefault('0.05'),
  /** Free fraction at or above which the host has no pressure. */
  TELEMETRY_CALM_FREE: fraction.prefault('0.20'),
  /** How long without pressure before a vapor VM telemetry powered off is started again. */
  TELEMETRY_RESTART_AFTER: zDuration().prefault('2m'),
  /** Decisions and "nothing changed" records are written together once per this long. */
  TELEMETRY_LOG_FLUSH: zDuration().prefault('500ms'),
  /**
   * A decision records its input as a delta against the host's previous decision, and in full (a
   * keyframe) every this many decisions, so a replay reads at most this many decisions.
   */
  TELEMETRY_KEYFRAME_EVERY: z.coerce.number().int().min(1).max(1000).prefault('10'),
  /** Timeout of a control request to the executor. */
  TELEMETRY_CONTROL_TIMEOUT: zDuration().prefault('30s'),
  /** Per-guest gauges (one series per VM and statistic); off for very large fleets. */
  TELEMETRY_GUEST_METRICS: z.enum(['on', 'off']).prefault('on'),
});

export type TelemetryConfig = z.output<typeof telemetryConfigSchema>;

export const loadTelemetryConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Readonly<TelemetryConfig> =>
  loadConfig(telemetryConfigSchema, env);
