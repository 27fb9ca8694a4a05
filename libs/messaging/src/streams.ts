import { compare, nanos, parseSemVer, type NatsConnection } from '@nats-io/transport-node';
import {
  DiscardPolicy,
  jetstreamManager,
  JetStreamApiError,
  PersistMode,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  type StreamInfo,
} from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { loadNatsDefinitions, type KvDefinition, type NatsDefinitions, type StreamDefinition } from './definitions.ts';
import { bucketName, checkPrefix, streamName, subjectName } from './names.ts';

export interface EnsureStreamsOptions {
  /** Test isolation prefix (see names.ts). */
  readonly prefix?: string;
  /** Definitions to apply; infra/nats/streams.json by default. */
  readonly definitions?: NatsDefinitions;
}

export type EnsureOutcome = 'created' | 'updated' | 'unchanged';

export interface EnsureStreamsResult {
  /** Outcome per (prefixed) stream or bucket name. */
  readonly streams: Readonly<Record<string, EnsureOutcome>>;
  readonly buckets: Readonly<Record<string, EnsureOutcome>>;
}

const STREAM_NOT_FOUND = 10059;

function desiredStream(def: StreamDefinition, prefix: string | undefined): Partial<StreamConfig> & { name: string } {
  return {
    name: streamName(def.name, prefix),
    description: def.description ?? '',
    subjects: def.subjects.map((s) => subjectName(s, prefix)),
    storage: def.storage === 'file' ? StorageType.File : StorageType.Memory,
    retention:
      def.retention === 'limits'
        ? RetentionPolicy.Limits
        : def.retention === 'workqueue'
          ? RetentionPolicy.Workqueue
          : RetentionPolicy.Interest,
    max_age: nanos(def.maxAgeMillis),
    duplicate_window: nanos(def.duplicateWindowMillis),
    num_replicas: 1,
  };
}

/** True when every field we manage already has the desired value on the server. */
function sameConfig(actual: StreamConfig, desired: Partial<StreamConfig>): boolean {
  return Object.entries(desired).every(([k, want]) => {
    const have = (actual as unknown as Record<string, unknown>)[k];
    return Array.isArray(want)
      ? JSON.stringify([...(have as string[])].sort()) === JSON.stringify([...(want as string[])].sort())
      : have === want;
  });
}

async function streamInfo(jsm: Awaited<ReturnType<typeof jetstreamManager>>, name: string): Promise<StreamInfo | undefined> {
  try {
    return await jsm.streams.info(name);
  } catch (e) {
    if (e instanceof JetStreamApiError && e.code === STREAM_NOT_FOUND) return undefined;
    throw e;
  }
}

/** A create/update the connection's user may not make: the error says who provisions streams. */
async function provisioning<T>(what: string, name: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw new Error(
      `NATS: stream ${name} ${what} (${why}). Streams and buckets are provisioned by an administrator (npm start and the test ` +
        `scripts do it; else \`npm run nats:provision\` as NATS's admin user); a service's user may only look them up (docs/security.md)`,
      { cause: e },
    );
  }
}

/**
 * Applies stream and KV bucket definitions: creates what is missing, updates what differs, leaves
 * the rest untouched. Safe to call on every start-up and from several processes at once. A service
 * calls it with its own NATS user, which may only look streams up: on a provisioned installation it
 * finds everything unchanged; otherwise it fails saying that provisioning is missing.
 */
export async function ensureStreams(
  nc: NatsConnection,
  optionsOrDefinitions: EnsureStreamsOptions | NatsDefinitions = {},
): Promise<EnsureStreamsResult> {
  const options: EnsureStreamsOptions = 'streams' in optionsOrDefinitions ? { definitions: optionsOrDefinitions } : optionsOrDefinitions;
  checkPrefix(options.prefix);
  const defs = options.definitions ?? loadNatsDefinitions();
  const jsm = await jetstreamManager(nc);
  const streams: Record<string, EnsureOutcome> = {};
  for (const def of defs.streams) {
    const want = desiredStream(def, options.prefix);
    const info = await provisioning('could not be looked up', want.name, () => streamInfo(jsm, want.name));
    if (info === undefined) {
      await provisioning('is missing and could not be created', want.name, () => jsm.streams.add(want));
      streams[want.name] = 'created';
    } else if (sameConfig(info.config, want)) {
      streams[want.name] = 'unchanged';
    } else {
      // Storage cannot change in place; the server rejects that update with a clear error.
      await provisioning('differs from infra/nats/streams.json and could not be updated', want.name, () =>
        jsm.streams.update(want.name, { ...info.config, ...want }),
      );
      streams[want.name] = 'updated';
    }
  }
  const buckets: Record<string, EnsureOutcome> = {};
  for (const def of defs.kv) buckets[bucketName(def.bucket, options.prefix)] = await ensureBucket(nc, jsm, def, options.prefix);
  return { streams, buckets };
}

async function ensureBucket(
  nc: NatsConnection,
  jsm: Awaited<ReturnType<typeof jetstreamManager>>,
  def: KvDefinition,
  prefix: string | undefined,
): Promise<EnsureOutcome> {
  const bucket = bucketName(def.bucket, prefix);
  const info = await streamInfo(jsm, `KV_${bucket}`);
  const storage = def.storage === 'file' ? StorageType.File : StorageType.Memory;
  if (info === undefined) {
    await provisioning('is missing and could not be created', `KV_${bucket}`, (): Promise<unknown> =>
      def.persistMode === 'async' && supportsPersistMode(nc)
        ? jsm.streams.add({ ...kvStreamConfig(bucket, def.history, storage, def.description ?? ''), persist_mode: PersistMode.Async })
        : new Kvm(nc).create(bucket, { history: def.history, storage, description: def.description ?? '' }),
    );
    return 'created';
  }
  const want = { max_msgs_per_subject: def.history, description: def.description ?? '' };
  if (sameConfig(info.config, want)) return 'unchanged';
  await provisioning('differs from infra/nats/streams.json and could not be updated', info.config.name, () =>
    jsm.streams.update(info.config.name, { ...info.config, ...want }),
  );
  return 'updated';
}

/** Whether the server knows a stream's `persist_mode` (nats-server >= 2.12). */
export function supportsPersistMode(nc: NatsConnection): boolean {
  const version = nc.info?.version;
  return version !== undefined && compare(parseSemVer(version), parseSemVer('2.12.0')) >= 0;
}

/**
 * The stream nats.js's `Kvm.create` makes for a bucket with these options on a server >= 2.10 (its
 * `persist_mode` it cannot set, so a bucket with one is made here; `streams.int.spec.ts` compares the two).
 */
function kvStreamConfig(
  bucket: string,
  history: number,
  storage: StorageType,
  description: string,
): Partial<StreamConfig> & { name: string } {
  return {
    name: `KV_${bucket}`,
    subjects: [`$KV.${bucket}.>`],
    retention: RetentionPolicy.Limits,
    max_msgs_per_subject: history,
    max_bytes: -1,
    max_msg_size: -1,
    storage,
    ...(description === '' ? {} : { description }),
    discard: DiscardPolicy.New,
    allow_direct: true,
    num_replicas: 1,
    allow_rollup_hdrs: true,
  };
}
