import { z } from 'zod';
import { consumerTuningShape, grpcClientShape, grpcSecurityShape, loadConfig, zDuration, zPort, zUrl } from '@berth/config';

const count = (min: number, max: number) =>
  z.coerce.number().int('must be a whole number').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);
const address = z.string().regex(/^[^\s:]+:\d+$/, 'must be host:port');

const POOL = /^[A-Za-z0-9_.-]{1,128}$/;
const whole = (max: number) => z.number().int('must be a whole number').min(0, 'must be >= 0').max(max, `must be <= ${max}`);
/** One pool's migration policy: any subset of the fields of MigrateVm's `policy`, checked as strictly. */
const poolPolicy = z.strictObject({
  maxDowntimeMillis: whole(3_600_000).optional(),
  bandwidthMiBps: whole(1_000_000).optional(),
  autoConverge: z.boolean('must be true or false').optional(),
  postCopy: z.boolean('must be true or false').optional(),
  completionBudgetSecondsPerGiB: whole(86_400).optional(),
  noProgressTimeoutSeconds: whole(86_400).optional(),
  maxAttempts: z.number().int('must be a whole number').min(1, 'must be >= 1').max(10, 'must be <= 10').optional(),
});
export type PoolPolicy = z.output<typeof poolPolicy>;

/**
 * MIGRATION_POOL_POLICIES: per resource pool migration policy as JSON, `{"gold": {"maxDowntimeMillis": 200,
 * "postCopy": true}, "default": {...}}` (pool `default`: VMs of no pool). A problem is named with its pool
 * and field (`MIGRATION_POOL_POLICIES: gold.postCopy: must be true or false`).
 */
const poolPolicies = z
  .string()
  .optional()
  .transform((text, ctx): Readonly<Record<string, PoolPolicy>> => {
    if (text === undefined) return {};
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: `not JSON: ${e instanceof Error ? e.message : String(e)}` });
      return z.NEVER;
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON object of pool name -> policy' });
      return z.NEVER;
    }
    const out: Record<string, PoolPolicy> = {};
    for (const [pool, value] of Object.entries(parsed)) {
      if (!POOL.test(pool)) {
        ctx.addIssue({ code: 'custom', message: `pool "${pool}": a pool name is 1-128 of [A-Za-z0-9_.-]` });
        continue;
      }
      const r = poolPolicy.safeParse(value);
      if (r.success) out[pool] = r.data;
      else
        for (const i of r.error.issues)
          ctx.addIssue({ code: 'custom', message: `${[pool, ...i.path.map(String)].join('.')}: ${i.message}` });
    }
    return out;
  });

/** Every variable the migration service reads, validated once at start-up (all problems named at once). */
export const migrationConfigSchema = z.object({
  /** GRPC_HOST and BERTH_TLS_CERT/KEY/CA (docs/security.md). */
  ...grpcSecurityShape,
  /** GRPC_CONNECT_TIMEOUT: how long a channel to inventory, the scheduler or the executor may stay connecting before a fresh one replaces it. */
  ...grpcClientShape,
  /** Settings of migration-executor-events, migration-host-states and migration-vm-events over infra/nats/consumers.json, as JSON. */
  ...consumerTuningShape,
  DATABASE_URL: zUrl(['postgres', 'postgresql']).prefault('postgres://postgres@127.0.0.1:5432/berth_migration'),
  NATS_URL: zUrl(['nats', 'tls']).prefault('nats://127.0.0.1:4222'),
  /** The file holding this service's NATS nkey seed (its own user; docs/security.md). Unset: no credentials. */
  NATS_CREDS: z.string().optional(),
  /** Isolates streams, subjects and buckets (tests share one server). */
  NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .optional(),
  MIGRATION_GRPC_PORT: zPort().prefault('50054'),
  /** host:port of inventory's gRPC API (claims, VMs, hosts). */
  INVENTORY_ADDR: address.prefault('127.0.0.1:50051'),
  /** host:port of the scheduler's gRPC API (destinations). */
  SCHEDULER_ADDR: address.prefault('127.0.0.1:50052'),
  /** host:port of the placement executor's gRPC API (the watchdog's probe of a silent executor). */
  EXECUTOR_ADDR: address.prefault('127.0.0.1:50053'),
  /** Deadline of one call to inventory or the scheduler. */
  MIGRATION_CALL_DEADLINE: zDuration().prefault('10s'),
  /** Destinations tried per migration before it fails (oVirt's rerun count). */
  MIGRATION_MAX_ATTEMPTS: count(1, 10).prefault('3'),
  /** Wait before the 2nd attempt; doubled for each later one. */
  MIGRATION_RETRY_BACKOFF: zDuration().prefault('5s'),
  /** Completion budget per GiB of guest memory (KubeVirt: 150 s). */
  MIGRATION_COMPLETION_BUDGET_PER_GIB: zDuration().prefault('150s'),
  /** Abort when the remaining data has not shrunk for this long (KubeVirt: 150 s). */
  MIGRATION_NO_PROGRESS_TIMEOUT: zDuration().prefault('150s'),
  /** How often unfinished migrations are looked for in the log (work lost by a crash or a failed call). */
  MIGRATION_SWEEP_INTERVAL: zDuration().prefault('2s'),
  /**
   * How long a migration may stay claimed, migrating or aborting without any word from the executor
   * before the watchdog asks the executor (GetVmRuntime) how the attempt stands; keep it longer than
   * the executor's EXECUTOR_MIGRATION_START_WINDOW (services/migration/README.md, "Watchdog").
   */
  MIGRATION_EXECUTOR_SILENCE: zDuration().prefault('60s'),
  /** Concurrency caps (KubeVirt / VDSM defaults): migrations at once in the fleet, out of and into one host. */
  MIGRATION_MAX_PER_FLEET: count(1, 1000).prefault('5'),
  MIGRATION_MAX_OUTBOUND_PER_HOST: count(1, 100).prefault('2'),
  MIGRATION_MAX_INBOUND_PER_HOST: count(1, 100).prefault('2'),
  /** How long a blocked drain waits before it plans again (it also plans again whenever one of its moves ends). */
  MIGRATION_EVACUATION_RETRY: zDuration().prefault('30s'),
  /** How often the balancer samples host loads and runs the pools whose interval has passed (their policies: the API). */
  MIGRATION_BALANCER_TICK: zDuration().prefault('10s'),
  /** Telemetry's measured usage of a host older than this is stale: the balancer counts that host by allocation. */
  MIGRATION_USAGE_FRESH: zDuration().prefault('30s'),
  /** Per resource pool migration policy (JSON, above); a request's own fields win, the defaults fill the rest. */
  MIGRATION_POOL_POLICIES: poolPolicies,
});

export type MigrationConfig = z.output<typeof migrationConfigSchema>;

export const loadMigrationConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Readonly<MigrationConfig> =>
  loadConfig(migrationConfigSchema, env);
