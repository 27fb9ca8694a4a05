import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { createLogger, type Logger } from '@berth/observability';
import { bucketName, checkPrefix } from './names.ts';
import { PubAckTracker } from './pub-acks.ts';
import { followWatch } from './watch.ts';

export interface KvEntryJson<T> {
  readonly key: string;
  /** undefined when the key was deleted or purged. */
  readonly value: T | undefined;
  readonly revision: number;
}

export interface JsonKv {
  readonly kv: KV;
  putJson(key: string, value: unknown): Promise<number>;
  /** putJson of a value given as its JSON text (one JSON value, not checked here). */
  putJsonText(key: string, json: string): Promise<number>;
  getJson<T>(key: string): Promise<KvEntryJson<T> | undefined>;
  /**
   * Calls `onChange` for the current value of every key, then for each change; `stop()` ends it. A
   * watch that fails on its own is opened again (followWatch): `onChange` then sees every key's
   * current value again.
   */
  watchJson<T>(onChange: (e: KvEntryJson<T>) => void | Promise<void>, key?: string): Promise<{ stop(): Promise<void> }>;
}

/** Keys a put can address directly (the KV key rules of nats.js). */
const PLAIN_KEY = /^[-/=\w]+(?:\.[-/=\w]+)*$/;

/**
 * Opens an existing bucket (created by ensureStreams) with JSON helpers. `putJson` publishes to the
 * bucket's subject through one reply subscription for all acknowledgements (PubAckTracker) instead of
 * a request per put (a reply subscription, a timer and two error objects each): the host-snapshot
 * writer puts one snapshot per claim.
 */
export async function openKv(nc: NatsConnection, bucket: string, opts: { prefix?: string; logger?: Logger } = {}): Promise<JsonKv> {
  checkPrefix(opts.prefix);
  const name = bucketName(bucket, opts.prefix);
  const kv = await new Kvm(nc).open(name);
  let acks: PubAckTracker | undefined;
  const decode = <T>(key: string, op: string, revision: number, json: () => unknown): KvEntryJson<T> => ({
    key,
    revision,
    value: op === 'PUT' ? (json() as T) : undefined,
  });
  const putJsonText = async (key: string, json: string): Promise<number> => {
    if (!PLAIN_KEY.test(key)) return kv.put(key, json); // its error names the key
    acks ??= new PubAckTracker(nc, 5000);
    return (await acks.publish(`$KV.${name}.${key}`, json)).seq;
  };
  return {
    kv,
    putJson(key, value) {
      return putJsonText(key, JSON.stringify(value));
    },
    putJsonText,
    async getJson<T>(key: string) {
      const e = await kv.get(key);
      return e === null ? undefined : decode<T>(e.key, e.operation, e.revision, () => e.json());
    },
    async watchJson<T>(onChange: (e: KvEntryJson<T>) => void | Promise<void>, key?: string) {
      return followWatch(
        () => kv.watch(key === undefined ? {} : { key }),
        (e) => onChange(decode<T>(e.key, e.operation, e.revision, () => e.json())),
        { what: key === undefined ? name : `${name} ${key}`, logger: opts.logger ?? createLogger('kv') },
      );
    },
  };
}
