import type { DomainState, MemoryStats } from '../driver.ts';
import type { LxdDevice } from './instance.ts';

/** LXD's view of an instance (`/1.0/instances/<name>[/state]`) as the driver's state and memory figures. Pure. */

/** An instance as `/1.0/instances/<name>` answers. */
export interface LxdInstance {
  readonly name: string;
  readonly status: string;
  readonly type: string;
  readonly config: Readonly<Record<string, string>>;
  readonly devices: Readonly<Record<string, LxdDevice>>;
  readonly expanded_devices?: Readonly<Record<string, LxdDevice>>;
}

/** LXD instance status -> the driver's domain state. */
export function stateFromLxd(status: string): DomainState {
  switch (status.toLowerCase()) {
    case 'running':
      return 'running';
    case 'stopped':
      return 'shut-off';
    case 'frozen':
    case 'freezing':
      return 'paused';
    case 'stopping':
    case 'aborting':
      return 'shutting-down';
    case 'error':
      return 'crashed';
    case 'starting':
    case 'thawed':
    case 'restarting':
      return 'running';
    default:
      return 'no-state';
  }
}

export interface LxdInstanceState {
  readonly status: string;
  readonly memory?: { readonly usage?: number; readonly usage_peak?: number; readonly swap_usage?: number; readonly total?: number };
}

/**
 * Memory statistics from `/1.0/instances/<name>/state`. `actualBytes` is the configured limit (LXD
 * reports no balloon size); `rssBytes` is LXD's usage; for VMs (whose agent reports `total`) the
 * difference is what the guest has unused.
 */
export function memoryStatsFromState(state: LxdInstanceState, limitBytes: number): MemoryStats {
  const usage = state.memory?.usage;
  const total = state.memory?.total;
  return {
    actualBytes: limitBytes,
    ...(usage !== undefined ? { rssBytes: usage } : {}),
    ...(total !== undefined && total > 0 ? { availableBytes: total } : {}),
    ...(usage !== undefined ? { unusedBytes: Math.max(0, (total !== undefined && total > 0 ? total : limitBytes) - usage) } : {}),
    ...(state.memory?.swap_usage !== undefined ? { swapOutBytes: state.memory.swap_usage } : {}),
  };
}

/** Parses an LXD size ("1GiB", "512MB", "1073741824", "256MiB") into bytes. */
export function parseLxdSize(value: string): number | undefined {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpe]?)(i?)b?\s*$/i.exec(value);
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = (m[2] ?? '').toLowerCase();
  const base = m[3] !== '' ? 1024 : 1000;
  const pow = ['', 'k', 'm', 'g', 't', 'p', 'e'].indexOf(unit);
  return Math.round(n * base ** pow);
}
