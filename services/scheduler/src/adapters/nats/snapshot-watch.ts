/**
 * Feeds the HostView from the `berth-host-snapshots` bucket (key = host id, value = HostSnapshot
 * JSON written by inventory). The watch first replays the latest value of every key, so a new or
 * restarted replica rebuilds its whole view; `ready` resolves once that replay is done. Updates of a
 * generation the view already holds are skipped without parsing (see isStale).
 */
import type { KV, KvWatchEntry } from '@nats-io/kv';
import type { HostSnapshot } from '@berth/fit';
import { followWatch } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { SnapshotSource, SnapshotView } from '../../application/ports.ts';
import { isPublishedPosition, type PositionGate } from '../../application/view-position.ts';

/** Inventory's key in the `berth-view-position` bucket. */
export const VIEW_POSITION_KEY = 'inventory';

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

const GENERATION_KEY = Buffer.from('"generation":');
const [OPEN_BRACE, COMMA, ZERO, NINE, CLOSE_BRACE] = ['{', ',', '0', '9', '}'].map((c) => c.charCodeAt(0)) as [
  number,
  number,
  number,
  number,
  number,
];

/**
 * The generation of a snapshot read without parsing it, or undefined when that cannot be done with
 * certainty (then the caller parses). Inventory writes snapshots with JSON.stringify (no whitespace):
 * `"generation":` right after `{` or `,` can only be an object key (inside a string its quotes would
 * be escaped), and a snapshot has one at the top level, so a single occurrence is that one. (A value
 * that is no snapshot at all but holds one such key may thus be skipped as stale instead of being
 * logged as malformed.)
 */
export function peekGeneration(value: Uint8Array): number | undefined {
  const bytes = Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  const at = bytes.indexOf(GENERATION_KEY);
  if (at <= 0 || (bytes[at - 1] !== OPEN_BRACE && bytes[at - 1] !== COMMA)) return undefined;
  let i = at + GENERATION_KEY.length;
  const first = i;
  let n = 0;
  for (; i < bytes.length && i - first < 16; i++) {
    const c = bytes[i]!;
    if (c < ZERO || c > NINE) break;
    n = n * 10 + (c - ZERO);
  }
  if (i === first || i - first >= 16 || (bytes[i] !== COMMA && bytes[i] !== CLOSE_BRACE)) return undefined;
  if (bytes.indexOf(GENERATION_KEY, i) >= 0) return undefined;
  return n;
}

/**
 * An update the view cannot use: it already holds this host at that generation or a later one,
 * typically the bucket catching up with claims this replica made and applied locally (see
 * rememberClaim in place-vm.ts). Skipped without parsing: snapshots grow with the claims on a host,
 * and with one replica these are most of the updates.
 */
export function isStale(view: SnapshotView, key: string, value: Uint8Array): boolean {
  const held = view.get(key)?.generation;
  if (held === undefined) return false;
  const generation = peekGeneration(value);
  return generation !== undefined && generation <= held;
}

/** One entry of the bucket into the view: a put (unless stale or malformed) or a removal. */
export function applyEntry(view: SnapshotView, e: Pick<KvWatchEntry, 'operation' | 'key' | 'value' | 'json'>, logger: Logger): void {
  if (e.operation !== 'PUT') {
    view.remove(e.key);
    return;
  }
  if (isStale(view, e.key, e.value)) return;
  const s = decode(e);
  if (typeof s === 'string') logger.warn({ key: e.key, reason: s }, 'skipping malformed host snapshot');
  else view.upsert(s);
}

/**
 * Watches the host bucket into the view. `gate` (the view-position wait) hears of every revision
 * applied, and of the whole replay once it is done: the replay holds the bucket as it was when the
 * watch began, so every revision up to the stream's last sequence read before it is in the view.
 */
export async function watchHostSnapshots(kv: KV, view: SnapshotView, logger: Logger, gate?: PositionGate): Promise<SnapshotWatch> {
  let ready = false;
  let markReady!: () => void;
  const readyPromise = new Promise<void>((r) => (markReady = r));
  const status = await kv.status();
  const replayedUpTo = status.streamInfo.state.last_seq;
  const setReady = () => {
    if (!ready) {
      ready = true;
      gate?.hostsApplied(replayedUpTo);
      markReady();
      logger.info({ hosts: view.size }, 'host view loaded from snapshots');
    }
  };
  if (status.values === 0) setReady();
  const apply = (e: KvWatchEntry) => {
    applyEntry(view, e, logger);
    gate?.hostsApplied(e.revision);
    // delta 0: the last entry of the initial replay; isUpdate: already past it.
    if (e.delta === 0 || e.isUpdate) setReady();
  };
  const watch = await followWatch(() => kv.watch(), apply, { what: 'host snapshots', logger });
  return {
    ready: readyPromise,
    isReady: () => ready,
    stop: () => watch.stop(),
  };
}

/**
 * Follows inventory's view position (bucket `berth-view-position`, key `inventory`) into the gate,
 * which lets it advance the view's position once the host watch has caught up with it.
 */
export async function watchViewPosition(kv: KV, gate: PositionGate, logger: Logger): Promise<{ stop(): Promise<void> }> {
  return followWatch(
    () => kv.watch({ key: VIEW_POSITION_KEY }),
    (e) => {
      if (e.operation !== 'PUT') return;
      let p: unknown;
      try {
        p = e.json<unknown>();
      } catch {
        p = undefined;
      }
      if (isPublishedPosition(p)) gate.published(p);
      else logger.warn({ key: e.key }, 'skipping malformed view position');
    },
    { what: 'view position', logger },
  );
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
