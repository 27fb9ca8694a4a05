import { z } from 'zod';
import { consumerTuningShape, grpcClientShape, grpcSecurityShape, loadConfig, zDuration, zPort, zUrl } from '@berth/config';

const count = (min: number, max: number) =>
  z.coerce.number().int(`must be a whole number`).min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);

/** Every variable the scheduler reads, validated once at start-up (all problems named at once). */
export const schedulerConfigSchema = z.object({
  /** GRPC_HOST and BERTH_TLS_CERT/KEY/CA (docs/security.md). */
  ...grpcSecurityShape,
  /** GRPC_CONNECT_TIMEOUT: how long the channel to inventory may stay connecting before a fresh one replaces it. */
  ...grpcClientShape,
  /** Settings of scheduler-vm-requested over infra/nats/consumers.json (ack wait, max deliveries, backoff), as JSON. */
  ...consumerTuningShape,
  NATS_URL: zUrl(['nats', 'tls']).prefault('nats://127.0.0.1:4222'),
  /** The file holding this service's NATS nkey seed (its own user; docs/security.md). Unset: no credentials. */
  NATS_CREDS: z.string().optional(),
  /** Isolates streams, subjects and buckets (tests share one server). */
  NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .optional(),
  /** host:port of inventory's gRPC API. */
  INVENTORY_ADDR: z
    .string()
    .regex(/^[^\s:]+:\d+$/, 'must be host:port')
    .prefault('127.0.0.1:50051'),
  SCHEDULER_GRPC_PORT: zPort().prefault('50052'),
  /** Claims sent per delivery of a VmRequested before giving up (or redelivering, under contention). */
  SCHEDULER_MAX_ATTEMPTS: count(1, 50).prefault('5'),
  /** Runners-up returned with each decision and tried after a rejection. */
  SCHEDULER_ALTERNATES: count(0, 50).prefault('4'),
  /** First choice at random among the best N hosts (1 = always the best); >1 eases races between replicas. */
  SCHEDULER_HOST_SUBSET_SIZE: count(1, 50).prefault('1'),
  /** Placement policy of resource pools not listed in SCHEDULER_POOL_POLICIES. */
  SCHEDULER_POLICY: z.enum(['pack', 'spread']).prefault('pack'),
  /** Per resource pool, e.g. `gpu=spread,batch=pack`. */
  SCHEDULER_POOL_POLICIES: z
    .string()
    .regex(/^([^=,\s]+=(pack|spread))(,[^=,\s]+=(pack|spread))*$/, 'must be pool=pack|spread pairs separated by commas')
    .optional()
    .transform((t): Readonly<Record<string, 'pack' | 'spread'>> =>
      t === undefined ? {} : Object.fromEntries(t.split(',').map((p) => p.split('=') as [string, 'pack' | 'spread'])),
    ),
  SCHEDULER_CLAIM_DEADLINE: zDuration().prefault('5s'),
  /**
   * How long a VM that fits nowhere waits for the view to reach the request's position in inventory's
   * log before the message is redelivered (a failure is never reported on a view older than the request).
   */
  SCHEDULER_VIEW_WAIT: zDuration().prefault('10s'),
  /**
   * VmRequested messages placed at the same time by this replica (the consumer's concurrency, one per VM
   * at a time); one at a time caps a replica at one claim round trip per VM.
   */
  SCHEDULER_PARALLELISM: count(1, 256).prefault('64'),
  /** Recent decisions kept in memory for Explain (inventory keeps the durable record). */
  SCHEDULER_DECISION_CACHE: count(0, 10_000_000).prefault('10000'),
});

export type SchedulerConfig = z.output<typeof schedulerConfigSchema>;

export const loadSchedulerConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Readonly<SchedulerConfig> =>
  loadConfig(schedulerConfigSchema, env);
