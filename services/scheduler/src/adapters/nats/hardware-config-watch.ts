/**
 * Follows the active hardware config (cost functions and profiles) that inventory puts in the KV
 * bucket `berth-hardware-config` under key `active` whenever HardwareConfigApplied is recorded.
 * No value yet (or a deleted one): hosts cost 0 and the pool's placement policy decides.
 */
import type { KV } from '@nats-io/kv';
import type { HardwareConfig } from '@berth/hardware-config';
import { followWatch } from '@berth/messaging';
import type { Logger } from '@berth/observability';
import type { CostConfig } from '@berth/scoring';

export const HARDWARE_CONFIG_BUCKET = 'berth-hardware-config';
export const ACTIVE_KEY = 'active';

export function parseCostConfig(json: unknown): CostConfig | string {
  if (typeof json !== 'object' || json === null) return 'not an object';
  const c = json as Partial<HardwareConfig>;
  if (typeof c.costFunctions !== 'object' || c.costFunctions === null) return 'costFunctions: must be an object';
  if (typeof c.profiles !== 'object' || c.profiles === null) return 'profiles: must be an object';
  return { costFunctions: c.costFunctions, profiles: c.profiles };
}

export async function watchHardwareConfig(
  kv: KV,
  onChange: (config: CostConfig) => void,
  logger: Logger,
): Promise<{ stop(): Promise<void> }> {
  return followWatch(
    () => kv.watch({ key: ACTIVE_KEY }),
    (e) => {
      if (e.operation !== 'PUT') {
        onChange({ costFunctions: {}, profiles: {} });
        return;
      }
      let parsed: CostConfig | string;
      try {
        parsed = parseCostConfig(e.json<unknown>());
      } catch {
        parsed = 'not JSON';
      }
      if (typeof parsed === 'string') {
        logger.warn({ reason: parsed, revision: e.revision }, 'ignoring malformed hardware config; keeping the previous one');
        return;
      }
      logger.info(
        { costFunctions: Object.keys(parsed.costFunctions).length, profiles: Object.keys(parsed.profiles).length },
        'hardware config loaded',
      );
      onChange(parsed);
    },
    { what: 'hardware config', logger },
  );
}
