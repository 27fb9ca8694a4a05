import { isCanonicalPciAddress } from '@berth/config/units';
import { Violations } from '@berth/errors';
import type { HardwareConfig, HardwareProfile } from '@berth/hardware-config';
import { event, type DomainEvent } from '../shared/event.ts';

export type HardwareConfigEvent = DomainEvent<'HardwareConfigApplied'>;
export type HardwareConfigCommand = { readonly type: 'ApplyHardwareConfig'; readonly config: HardwareConfig; readonly source: string };
export type HardwareConfigState = { readonly version: number; readonly config: HardwareConfig };

export const emptyHardwareConfig = (): HardwareConfig => ({ costFunctions: {}, profiles: {} });
export const initialHardwareConfig = (): HardwareConfigState => ({ version: 0, config: emptyHardwareConfig() });
export const evolveHardwareConfig = (s: HardwareConfigState, e: HardwareConfigEvent): HardwareConfigState => ({
  version: s.version + 1,
  config: e.data.config,
});

function checkProfile(v: Violations, id: string, p: HardwareProfile, config: HardwareConfig): void {
  const f = `config.hardwareProfiles.${id}`;
  v.check(p.id === id, `${f}.id`, `must equal its key '${id}'`);
  v.check(Number.isSafeInteger(p.cores) && p.cores > 0, `${f}.cores`, `must be a positive integer, got ${p.cores}`);
  v.check(
    Number.isSafeInteger(p.memoryBytes) && p.memoryBytes > 0,
    `${f}.memory`,
    `must be a positive number of bytes, got ${p.memoryBytes}`,
  );
  v.check(config.costFunctions[p.costFunction] !== undefined, `${f}.cost-function`, `unknown cost function '${p.costFunction}'`);
  p.devices.forEach((d, i) => {
    v.check(d.type.trim() !== '', `${f}.devices[${i}].type`, 'required');
    v.check(isCanonicalPciAddress(d.address), `${f}.devices[${i}].addr`, `malformed PCI address '${d.address}' (expected dddd:bb:ss.f)`);
  });
}

/** Applying a config replaces the previous one; profiles must reference cost functions it defines. */
export function decideHardwareConfig(command: HardwareConfigCommand, _state: HardwareConfigState): HardwareConfigEvent[] {
  const v = new Violations();
  for (const [id, p] of Object.entries(command.config.profiles)) checkProfile(v, id, p, command.config);
  for (const [id, c] of Object.entries(command.config.costFunctions)) {
    v.check(c.id === id, `config.costFunctions.${id}.id`, `must equal its key '${id}'`);
    v.check(Number.isFinite(c.scale) && Number.isFinite(c.offset), `config.costFunctions.${id}`, 'scale and offset must be finite');
  }
  v.check(command.source.length <= 4096, 'source', 'longer than 4096 characters');
  v.throwIfAny();
  return [event('HardwareConfigApplied', { config: command.config, source: command.source })];
}
