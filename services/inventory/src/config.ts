import { z } from 'zod';
import { consumerTuningShape, grpcSecurityShape, loadConfig, zDuration, zPort, zUrl } from '@berth/config';

/** Every variable inventory reads, validated once at start-up (all problems named at once). */
export const inventoryConfigSchema = z.object({
  /** GRPC_HOST and BERTH_TLS_CERT/KEY/CA (docs/security.md). */
  ...grpcSecurityShape,
  /** Settings of inventory-dead-requests over infra/nats/consumers.json (ack wait, max deliveries, backoff), as JSON. */
  ...consumerTuningShape,
  DATABASE_URL: zUrl(['postgres', 'postgresql']).prefault('postgres://postgres@127.0.0.1:5432/berth_inventory'),
  NATS_URL: zUrl(['nats', 'tls']).prefault('nats://127.0.0.1:4222'),
  /** The file holding this service's NATS nkey seed (its own user; docs/security.md). Unset: no credentials. */
  NATS_CREDS: z.string().optional(),
  /** Isolates streams, subjects and buckets (tests share one server). */
  NATS_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
    .optional(),
  INVENTORY_GRPC_PORT: zPort().prefault('50051'),
  /** Placements tried for a VM before it stays provision-failed. */
  INVENTORY_MAX_PROVISION_ATTEMPTS: z.coerce
    .number()
    .int('must be a whole number')
    .min(1, 'must be >= 1')
    .max(20, 'must be <= 20')
    .prefault('3'),
  /** How often VMs waiting for capacity are checked against their deadline (a late failure is at most this late). */
  INVENTORY_CAPACITY_SWEEP: zDuration().prefault('1s'),
  /**
   * How long a host snapshot whose only change is new placements (a scheduler's claims, each with its
   * VmPlaced) may wait before it is put in the scheduler's bucket (adapters/nats/claim-linger.ts); 0:
   * every change at once. A scheduler replica counts its own claims until a snapshot holds them, so
   * what waits is seen only by other replicas (and a restarted one) up to this late, as a refused claim
   * at worst. Migration claims and every change that gives a host room are never held. Off by default:
   * the migration service's evacuation reads the same bucket and cannot count held claims, and at 3s
   * the SIGKILL table failed once in CI (services/inventory/README.md).
   */
  INVENTORY_SNAPSHOT_CLAIM_LINGER: zDuration().prefault('0'),
});

export type InventoryConfig = z.output<typeof inventoryConfigSchema>;

export const loadInventoryConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Readonly<InventoryConfig> =>
  loadConfig(inventoryConfigSchema, env);
