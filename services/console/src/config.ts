import { z } from 'zod';
import { loadConfig, zDuration, zPort, zUrl } from '@berth/config';

const address = z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port');
const optionalAddress = z.union([z.literal('off'), address]);

/** Every variable the console reads, validated once at start-up (all problems named at once). */
export const consoleConfigSchema = z
  .object({
    /** HTTP port of the console (the browser UI, its JSON API and the event stream). */
    CONSOLE_PORT: zPort().prefault('8080'),
    /** Address to bind. Loopback by default; any other address needs CONSOLE_AUTH_TOKEN. */
    CONSOLE_BIND: z.string().min(1).prefault('127.0.0.1'),
    /**
     * Operator token for a non-loopback bind: the browser sends it as a bearer token (or the
     * `berth_console` cookie set by /login). Berth has no operator identities for browsers yet.
     */
    CONSOLE_AUTH_TOKEN: z.string().prefault(''),
    NATS_URL: zUrl(['nats', 'tls']).prefault('nats://127.0.0.1:4222'),
    /** The nkey seed file of the NATS user the console follows events as (npm start: the read-only `reader`). */
    NATS_CREDS: z.string().optional(),
    /** Isolates streams and subjects (tests share one server). */
    NATS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
      .optional(),
    INVENTORY_ADDR: address.prefault('127.0.0.1:50051'),
    SCHEDULER_ADDR: address.prefault('127.0.0.1:50052'),
    /** The migration service (migrate, maintenance); `off`: those actions say why they are unavailable. */
    MIGRATION_ADDR: optionalAddress.prefault('127.0.0.1:50054'),
    /** The telemetry service (memory/balloon readings); `off`: the VM page shows none. */
    TELEMETRY_ADDR: optionalAddress.prefault('127.0.0.1:50055'),
    /** PEM files for the gRPC clients when the services require TLS / mutual TLS (grpc-kit's identities). */
    CONSOLE_GRPC_TLS_CA_FILE: z.string().optional(),
    CONSOLE_GRPC_TLS_CERT_FILE: z.string().optional(),
    CONSOLE_GRPC_TLS_KEY_FILE: z.string().optional(),
    /** Deadline of one call the browser makes through the console. */
    CONSOLE_CALL_DEADLINE: zDuration().prefault('15s'),
    /** Events are sent to browsers at most this often, as one batch (500 events/s stay one update per flush). */
    CONSOLE_EVENT_FLUSH: zDuration().prefault('100ms'),
    /** A host's measured usage (telemetry's berth-host-usage) older than this is no longer shown as measured. */
    CONSOLE_USAGE_MAX_AGE: zDuration().prefault('60s'),
    /** Built browser assets (services/console/dist by default). */
    CONSOLE_ASSETS_DIR: z.string().prefault(''),
  })
  .superRefine((c, ctx) => {
    if (!isLoopback(c.CONSOLE_BIND) && c.CONSOLE_AUTH_TOKEN.length < 16) {
      ctx.addIssue({
        code: 'custom',
        path: ['CONSOLE_AUTH_TOKEN'],
        message: `is required (at least 16 characters) to bind ${c.CONSOLE_BIND}: off loopback the console serves operators only`,
      });
    }
  });

export type ConsoleConfig = z.output<typeof consoleConfigSchema>;

export function isLoopback(bind: string): boolean {
  return bind === 'localhost' || bind === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bind);
}

export const loadConsoleConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Readonly<ConsoleConfig> =>
  loadConfig(consoleConfigSchema, env);
