import type { NatsConnection } from '@nats-io/transport-node';
import { Kvm, type KV } from '@nats-io/kv';
import { bucketName, checkPrefix } from './names.ts';

export interface KvEntryJson<T> {
  readonly key: string;
  /** undefined when the key was deleted or purged. */
  readonly value: T | undefined;
  readonly revision: number;
}

export interface JsonKv {
  readonly kv: KV;
  putJson(key: string, value: unknown): Promise<number>;
  getJson<T>(key: string): Promise<KvEntryJson<T> | undefined>;
  /** Calls `onChange` for the current value of every key, then for each change; `stop()` ends it. */
  watchJson<T>(onChange: (e: KvEntryJson<T>) => void | Promise<void>, key?: string): Promise<{ stop(): Promise<void> }>;
}

/** Opens an existing bucket (created by ensureStreams) with JSON helpers. */
export async function openKv(nc: NatsConnection, bucket: string, opts: { prefix?: string } = {}): Promise<JsonKv> {
  checkPrefix(opts.prefix);
  const kv = await new Kvm(nc).open(bucketName(bucket, opts.prefix));
  const decode = <T>(key: string, op: string, revision: number, json: () => unknown): KvEntryJson<T> => ({
    key,
    revision,
    value: op === 'PUT' ? (json() as T) : undefined,
  });
  return {
    kv,
    putJson: (key, value) => kv.put(key, JSON.stringify(value)),
    async getJson<T>(key: string) {
      const e = await kv.get(key);
      return e === null ? undefined : decode<T>(e.key, e.operation, e.revision, () => e.json());
    },
    async watchJson<T>(onChange: (e: KvEntryJson<T>) => void | Promise<void>, key?: string) {
      const it = await kv.watch(key === undefined ? {} : { key });
      const done = (async () => {
        for await (const e of it) await onChange(decode<T>(e.key, e.operation, e.revision, () => e.json()));
      })();
      return {
        async stop() {
          it.stop();
          await done;
        },
      };
    },
  };
}
