import { z } from 'zod';
import { consumerTuningShape, grpcSecurityShape, loadConfig, zBytes, zDuration, zPort, zUrl } from '@berth/config';
import { parseLibvirtRealm, type RealmSettings } from '@berth/hypervisor';

const count = (min: number, max: number) =>
  z.coerce.number().int('must be a whole number').min(min, `must be >= ${min}`).max(max, `must be <= ${max}`);

const realm = z
  .string()
  .optional()
  .transform((text, ctx): RealmSettings => {
    try {
      const parsed: unknown = text === undefined ? {} : JSON.parse(text);
      if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('must be a JSON object of realm settings');
      return parseLibvirtRealm(parsed as Record<string, unknown>, 'EXECUTOR_REALM');
    } catch (e) {
      ctx.addIssue({ code: 'custom', message: e instanceof Error ? e.message : String(e) });
      return z.NEVER;
    }
  });

/** Every variable the executor reads, validated once at start-up (all problems named at once). */
export const executorConfigSchema = z
  .object({
    /** GRPC_HOST and BERTH_TLS_CERT/KEY/CA (docs/security.md). */
    ...grpcSecurityShape,
    /** Settings of executor-vm-commands, executor-host-registry and executor-migration-commands over infra/nats/consumers.json, as JSON. */
    ...consumerTuningShape,
    DATABASE_URL: zUrl(['postgres', 'postgresql']).prefault('postgres://postgres@127.0.0.1:5432/berth_executor'),
    NATS_URL: zUrl(['nats', 'tls']).prefault('nats://127.0.0.1:4222'),
    /** The file holding this service's NATS nkey seed (its own user; docs/security.md). Unset: no credentials. */
    NATS_CREDS: z.string().optional(),
    /** Isolates streams, subjects and buckets (tests share one server). */
    NATS_PREFIX: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'letters, digits, _ and - only')
      .optional(),
    EXECUTOR_GRPC_PORT: zPort().prefault('50053'),
    /**
     * The libvirt realm section (seed 003 keys) as JSON, e.g. `{"registration-timeout":"2m","poll-frequency":"10s"}`;
     * tiCrypt defaults for anything left out.
     */
    EXECUTOR_REALM: realm,
    /** What reconciliation does with a VM that should run and does not: restart it, or only report it. */
    EXECUTOR_RESTART_POLICY: z.enum(['restart', 'report']).prefault('restart'),
    /** VMs provisioned at the same time (each host also bounds its own virsh processes). */
    EXECUTOR_CONCURRENCY: count(1, 10_000).prefault('64'),
    /** Concurrent pulls on the VM-events consumer. */
    EXECUTOR_INTAKE_PARALLELISM: count(1, 1024).prefault('64'),
    /** virsh processes per host at the same time. */
    EXECUTOR_HOST_CONCURRENCY: count(1, 64).prefault('4'),
    /** A stop request's graceful shutdown gets this long before the domain is forced off. */
    EXECUTOR_STOP_TIMEOUT: zDuration().prefault('60s'),
    /** Timeout of one hypervisor call. */
    EXECUTOR_CALL_TIMEOUT: zDuration().prefault('30s'),
    /** How often every host's statistics are sampled and published for telemetry (MOM: 5s); 0 turns sampling off. */
    EXECUTOR_SAMPLE_INTERVAL: zDuration().prefault('5s'),
    /**
     * For hosts whose libvirt is reached over TCP or TLS (`qemu+tcp://`, `qemu+tls://`, `qemu://host/`):
     * the SSH endpoint through which their own files (swap, KSM's run, ksmd) are read, `{host}` standing
     * for the URI's host, e.g. `ssh://berth@{host}?keyfile=/etc/berth/host-files.key`. Unset: those
     * statistics are absent and telemetry evaluates such hosts without them (services/telemetry/README.md).
     */
    EXECUTOR_HOST_FILES_SSH: z
      .string()
      .optional()
      .refine(
        (s) => s === undefined || /^ssh:\/\/([^@/]+@)?(\{host\}|[^/?]+)/.test(s),
        'must be ssh://[user@]{host}[:port][?keyfile=PATH]',
      ),
    /**
     * How often the log's unfinished work (provisioning, migrations after a restart) is looked for
     * and new hosts' events followed.
     */
    EXECUTOR_SWEEP_INTERVAL: zDuration()
      .refine((ms) => ms >= 50, 'must be at least 50ms')
      .prefault('2s'),
    /** Live-migration progress is recorded (and published) at most once per this interval. */
    EXECUTOR_MIGRATION_PROGRESS_INTERVAL: zDuration().prefault('2s'),
    // A DestinationClaimed older than this, or past the startBy it carries (half the migration service's
    // MIGRATION_EXECUTOR_SILENCE), is refused, not started: the migration service's watchdog may already
    // have given the attempt up (services/migration/README.md).
    EXECUTOR_MIGRATION_START_WINDOW: zDuration().prefault('30s'),
    /**
     * Serve `sim://` hosts with the built-in simulator (demos, `npm start`, the e2e stacks). Off by
     * default: a production executor builds no simulator, and a sim:// host fails as unreachable.
     */
    EXECUTOR_SIMULATOR: z.enum(['off', 'on']).prefault('off'),
    /**
     * Serve `sim://` hosts from a simulator daemon (`berth-simulator`, libs/hypervisor) instead:
     * `unix:/path/to.sock` or `http://host:port`. Its hosts live in that process, so they outlive
     * this one (a restarted executor finds its domains and migration jobs there). Takes precedence
     * over EXECUTOR_SIMULATOR.
     */
    EXECUTOR_SIMULATOR_URL: z
      .string()
      .optional()
      .refine((s) => s === undefined || /^unix:.+/.test(s) || /^http:\/\/[^/]+:\d+\/?$/.test(s), 'must be unix:/path or http://host:port'),
    /** Size of each simulated host, made when first used (capacity is inventory's business: the simulator should not refuse what inventory placed). */
    EXECUTOR_SIM_HOST_CPUS: count(1, 1_000_000).prefault('4096'),
    EXECUTOR_SIM_HOST_MEMORY: zBytes().prefault('1024 TiB'),
    /**
     * Whether the hosts' drive pools are shared (the same files on every host, e.g. NFS). `off`: a cold
     * move copies a stopped VM's disks to the destination (vol-download / vol-upload); `on`: it does
     * not, and the source's undefine keeps the volumes the destination now uses.
     */
    EXECUTOR_SHARED_STORAGE: z.enum(['on', 'off']).prefault('off'),
    /** Added latency of every simulator (sim://) operation, for demos. */
    EXECUTOR_SIM_LATENCY: zDuration().prefault('0ms'),
    /** PEM files of the TLS client certificate and key Berth presents to `https://` LXD hosts (both or neither). */
    EXECUTOR_LXD_CERT: z.string().min(1).optional(),
    EXECUTOR_LXD_KEY: z.string().min(1).optional(),
  })
  .refine((c) => (c.EXECUTOR_LXD_CERT === undefined) === (c.EXECUTOR_LXD_KEY === undefined), {
    message: 'set both EXECUTOR_LXD_CERT and EXECUTOR_LXD_KEY, or neither',
    path: ['EXECUTOR_LXD_KEY'],
  });

export type ExecutorConfig = z.output<typeof executorConfigSchema>;

export const loadExecutorConfig = (env: Readonly<Record<string, string | undefined>> = process.env): Readonly<ExecutorConfig> =>
  loadConfig(executorConfigSchema, env);
