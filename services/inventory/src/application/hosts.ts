import { NotFoundError, ValidationError } from '@berth/errors';
import type { EventStreams, PostgresEventStore } from '@berth/event-store';
import type { HostState } from '@berth/fit';
import type { HardwareConfig } from '@berth/hardware-config';
import { inventoryEvents } from '@berth/contracts';
import type { HostCommand, HostSpecInput } from '../domain/host/commands.ts';
import { decideHost } from '../domain/host/decide.ts';
import type { HostEvent } from '../domain/host/events.ts';
import { evolveHost, initialHost, type ActiveHost, type Host } from '../domain/host/state.ts';
import {
  decideHardwareConfig,
  evolveHardwareConfig,
  initialHardwareConfig,
  type HardwareConfigEvent,
  type HardwareConfigState,
} from '../domain/hardware-config/decide.ts';
import { decideOnce, load, newId, priorId, save, withoutTransaction } from './tx.ts';

const { hostStreamId, HARDWARE_CONFIG_STREAM } = inventoryEvents;
const HOST_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkHostId(hostId: string, field = 'hostId'): void {
  if (!HOST_ID.test(hostId)) throw new ValidationError({ field, reason: `must be 1-63 of [a-z0-9-], not starting or ending with '-', got '${hostId}'` });
}

export const loadHost = (tx: EventStreams, hostId: string) =>
  load<Host, HostEvent>(tx, hostStreamId(hostId), evolveHost, initialHost);

export const loadHardwareConfig = (tx: EventStreams) =>
  load<HardwareConfigState, HardwareConfigEvent>(tx, HARDWARE_CONFIG_STREAM, evolveHardwareConfig, initialHardwareConfig);

function activeOrNotFound(host: Host, hostId: string): ActiveHost {
  if (host.status !== 'active') throw new NotFoundError('host', hostId);
  return host;
}

/** Host and hardware-config commands: load -> decide -> append, one transaction each. */
export class HostCommands {
  constructor(private readonly store: PostgresEventStore) {}

  /** Runs one host command; answers a retried command id from the current state. */
  private async run(hostId: string, commandId: string | undefined, build: (tx: EventStreams) => Promise<HostCommand>): Promise<Host> {
    checkHostId(hostId);
    return withoutTransaction(this.store, async (tx) => {
      const loaded = await loadHost(tx, hostId);
      const command = await build(tx);
      const decided = await decideOnce(tx, commandId, () => decideHost(command, loaded.state), () => []);
      return (await save(tx, hostStreamId(hostId), loaded, decided, evolveHost, commandId)).state;
    });
  }

  async register(input: { commandId?: string; hostId?: string; spec: HostSpecInput; state?: HostState }): Promise<ActiveHost> {
    const hostId = input.hostId || (await priorId(this.store, input.commandId, 'host-')) || `h-${newId().slice(0, 8)}`;
    const host = await this.run(hostId, input.commandId, async (tx) => ({
      type: 'RegisterHost',
      hostId,
      spec: input.spec,
      initialState: input.state ?? 'enabled',
      profiles: (await loadHardwareConfig(tx)).state.config.profiles,
    }));
    return activeOrNotFound(host, hostId);
  }

  async update(input: { commandId?: string; hostId: string; spec: HostSpecInput; expectedGeneration?: number }): Promise<ActiveHost> {
    const host = await this.run(input.hostId, input.commandId, async (tx) => ({
      type: 'UpdateHost',
      spec: input.spec,
      profiles: (await loadHardwareConfig(tx)).state.config.profiles,
      ...(input.expectedGeneration === undefined ? {} : { expectedGeneration: input.expectedGeneration }),
    }));
    return activeOrNotFound(host, input.hostId);
  }

  async remove(input: { commandId?: string; hostId: string; reason: string }): Promise<void> {
    const host = await this.run(input.hostId, input.commandId, async () => ({ type: 'RemoveHost', reason: input.reason }));
    if (host.status === 'absent') throw new NotFoundError('host', input.hostId);
  }

  async setState(input: { commandId?: string; hostId: string; state: HostState; reason: string }): Promise<ActiveHost> {
    const host = await this.run(input.hostId, input.commandId, async () => ({ type: 'SetHostState', to: input.state, reason: input.reason }));
    return activeOrNotFound(host, input.hostId);
  }

  async get(hostId: string): Promise<ActiveHost> {
    checkHostId(hostId);
    return activeOrNotFound((await loadHost(this.store, hostId)).state, hostId);
  }

  async applyHardwareConfig(input: { commandId?: string; config: HardwareConfig; source: string }): Promise<number> {
    return withoutTransaction(this.store, async (tx) => {
      const loaded = await loadHardwareConfig(tx);
      const decided = decideHardwareConfig({ type: 'ApplyHardwareConfig', config: input.config, source: input.source }, loaded.state);
      return (await save(tx, HARDWARE_CONFIG_STREAM, loaded, decided, evolveHardwareConfig, input.commandId)).state.version;
    });
  }

  async hardwareConfig(): Promise<HardwareConfigState> {
    return (await loadHardwareConfig(this.store)).state;
  }
}
