/**
 * Feeds the HostView from the `berth-host-snapshots` bucket (key = host id, value = HostSnapshot
 * JSON written by inventory). The watch first replays the latest value of every key, so a new or
 * restarted replica rebuilds its whole view; `ready` resolves once that replay is done.
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { HostSnapshot } from '@berth/fit';
import type { Logger } from '@berth/observability';
import type { SnapshotSource, SnapshotView } from '../../application/ports.ts';

export interface SnapshotWatch {
  readonly ready: Promise<void>;
  isReady(): boolean;
  stop(): Promise<void>;
}

/** Structural check at the edge: a malformed entry is logged and skipped, never scored. */
export function parseSnapshot(json: unknown): HostSnapshot | string {
  if (typeof json !== 'object' || json === null) return 'not an object';
  const s = json as Partial<HostSnapshot>;
  if (typeof s.generation !== 'number' || !Number.isInteger(s.generation)) return 'generation: must be an integer';
  if (!Array.isArray(s.claims)) return 'claims: must be an array';
  const c = s.capacity;
  if (typeof c !== 'object' || c === null) return 'capacity: must be an object';
  if (typeof c.hostId !== 'string' || c.hostId === '') return 'capacity.hostId: must be a non-empty string';
  if (typeof c.cpus !== 'number' || typeof c.memoryBytes !== 'number') return 'capacity.cpus/memoryBytes: must be numbers';
  return s as HostSnapshot;
}

function decode(e: { value: Uint8Array; json<T>(): T }): HostSnapshot | string {
  try {
    return parseSnapshot(e.json<unknown>());
  } catch {
    return 'not JSON';
  }
}

export async function watchHostSnapshots(kv: KV, view: SnapshotView, logger: Logger): Promise<SnapshotWatch> {
  let ready = false;
  let markReady!: () => void;
  const readyPromise = new Promise<void>((r) => (markReady = r));
  const setReady = () => {
    if (!ready) {
      ready = true;
      markReady();
      logger.info({ hosts: view.size }, 'host view loaded from snapshots');
    }
  };
  const status = await kv.status();
  if (status.values === 0) setReady();
  const it = await kv.watch();
  const apply = (e: KvWatchEntry) => {
    if (e.operation === 'PUT') {
      const s = decode(e);
      if (typeof s === 'string') logger.warn({ key: e.key, reason: s }, 'skipping malformed host snapshot');
      else view.upsert(s);
    } else {
      view.remove(e.key);
    }
    // delta 0: the last entry of the initial replay; isUpdate: already past it.
    if (e.delta === 0 || e.isUpdate) setReady();
  };
  const done = (async () => {
    for await (const e of it) apply(e);
  })();
  return {
    ready: readyPromise,
    isReady: () => ready,
    async stop() {
      it.stop();
      await done;
    },
  };
}

/** Direct reads of one host, used right after inventory refused a claim on it. */
export function kvSnapshotSource(kv: KV, logger: Logger): SnapshotSource {
  return {
    async get(hostId) {
      const e = await kv.get(hostId);
      if (e === null || e.operation !== 'PUT') return undefined;
      const s = decode(e);
      if (typeof s === 'string') {
        logger.warn({ key: hostId, reason: s }, 'malformed host snapshot');
        return undefined;
      }
      return s;
    },
  };
}
