import { NotFoundError, ValidationError } from '@berth/errors';
import type { CommandBatcher, Folded } from '@berth/event-store';
import type { HostState } from '@berth/fit';
import type { HardwareConfig } from '@berth/hardware-config';
import { inventoryEvents } from '@berth/contracts';
import type { HostCommand, HostSpecInput } from '../domain/host/commands.ts';
import { decideHost } from '../domain/host/decide.ts';
import type { ActiveHost, Host } from '../domain/host/state.ts';
import { decideHardwareConfig, type HardwareConfigState } from '../domain/hardware-config/decide.ts';
import { newId, priorId } from './ids.ts';
import { hardwareConfigAggregate, hostAggregate } from './streams.ts';

const { hostStreamId, HARDWARE_CONFIG_STREAM } = inventoryEvents;
const HOST_ID = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

export function checkHostId(hostId: string, field = 'hostId'): void {
  if (!HOST_ID.test(hostId))
    throw new ValidationError({ field, reason: `must be 1-63 of [a-z0-9-], not starting or ending with '-', got '${hostId}'` });
}

function activeOrNotFound(host: Host, hostId: string): ActiveHost {
  if (host.status !== 'active') throw new NotFoundError('host', hostId);
  return host;
}

const configOf = (f: Folded | undefined): HardwareConfigState => hardwareConfigAggregate.of(f!).state;

/** Host and hardware-config commands: decide on the folded streams, append through the batcher. */
export class HostCommands {
  constructor(private readonly batcher: CommandBatcher) {}

  /** Runs one host command; `build` may read the hardware config (profiles), which the command then depends on. */
  private async run(hostId: string, commandId: string | undefined, build: (config: HardwareConfigState) => HostCommand): Promise<Host> {
    checkHostId(hostId);
    const r = await this.batcher.execute({
      streamIds: [hostStreamId(hostId), HARDWARE_CONFIG_STREAM],
      ...(commandId ? { commandId } : {}),
      decide: ([host, config]) => [decideHost(build(configOf(config)), host!.state as Host), []],
    });
    return r.states[0]!.state as Host;
  }

  async register(input: { commandId?: string; hostId?: string; spec: HostSpecInput; state?: HostState }): Promise<ActiveHost> {
    const hostId = input.hostId || (await priorId(this.batcher.store, input.commandId, 'host-')) || `h-${newId().slice(0, 8)}`;
    const host = await this.run(hostId, input.commandId, (config) => ({
      type: 'RegisterHost',
      hostId,
      spec: input.spec,
      initialState: input.state ?? 'enabled',
      profiles: config.config.profiles,
    }));
    return activeOrNotFound(host, hostId);
  }

  async update(input: { commandId?: string; hostId: string; spec: HostSpecInput; expectedGeneration?: number }): Promise<ActiveHost> {
    const host = await this.run(input.hostId, input.commandId, (config) => ({
      type: 'UpdateHost',
      spec: input.spec,
      profiles: config.config.profiles,
      ...(input.expectedGeneration === undefined ? {} : { expectedGeneration: input.expectedGeneration }),
    }));
    return activeOrNotFound(host, input.hostId);
  }

  async remove(input: { commandId?: string; hostId: string; reason: string }): Promise<void> {
    const host = await this.run(input.hostId, input.commandId, () => ({ type: 'RemoveHost', reason: input.reason }));
    if (host.status === 'absent') throw new NotFoundError('host', input.hostId);
  }

  async setState(input: { commandId?: string; hostId: string; state: HostState; reason: string }): Promise<ActiveHost> {
    const host = await this.run(input.hostId, input.commandId, () => ({ type: 'SetHostState', to: input.state, reason: input.reason }));
    return activeOrNotFound(host, input.hostId);
  }

  async get(hostId: string): Promise<ActiveHost> {
    checkHostId(hostId);
    return activeOrNotFound((await this.batcher.readFresh(hostAggregate.stream(hostStreamId(hostId)))).state, hostId);
  }

  async applyHardwareConfig(input: { commandId?: string; config: HardwareConfig; source: string }): Promise<number> {
    const r = await this.batcher.execute({
      streamIds: [HARDWARE_CONFIG_STREAM],
      ...(input.commandId ? { commandId: input.commandId } : {}),
      decide: ([config]) => [
        decideHardwareConfig({ type: 'ApplyHardwareConfig', config: input.config, source: input.source }, configOf(config)),
      ],
    });
    return configOf(r.states[0]).version;
  }

  async hardwareConfig(): Promise<HardwareConfigState> {
    return (await this.batcher.readFresh(hardwareConfigAggregate.stream(HARDWARE_CONFIG_STREAM))).state;
  }
}
