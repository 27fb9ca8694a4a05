import { NotFoundError, ValidationError, type CallDeadline } from '@berth/errors';
import type { CommandBatcher } from '@berth/event-store';
import type { HostState } from '@berth/fit';
import type { HardwareConfig } from '@berth/hardware-config';
import { inventoryEvents } from '@berth/contracts';
import type { HostCommand, HostSpecInput } from '../domain/host/commands.ts';
import { decideHost } from '../domain/host/decide.ts';
import type { ActiveHost, Host } from '../domain/host/state.ts';
import { decideHardwareConfig, type HardwareConfigState } from '../domain/hardware-config/decide.ts';
import { newId, priorId } from './ids.ts';
import { hardwareConfigAggregate, hardwareConfigOf, hostAggregate, hostOf } from './streams.ts';

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

/** Host and hardware-config commands: decide on the folded streams, append through the batcher. */
export class HostCommands {
  constructor(private readonly batcher: CommandBatcher) {}

  /** Runs one host command; `build` may read the hardware config (profiles), which the command then depends on. */
  private async run(
    hostId: string,
    commandId: string | undefined,
    build: (config: HardwareConfigState) => HostCommand,
    call: CallDeadline | undefined,
  ): Promise<Host> {
    checkHostId(hostId);
    const r = await this.batcher.execute(
      {
        streamIds: [hostStreamId(hostId), HARDWARE_CONFIG_STREAM],
        ...(commandId ? { commandId } : {}),
        decide: ([host, config]) => [decideHost(build(hardwareConfigOf(config)), hostOf(host)), []],
      },
      call,
    );
    return hostOf(r.states[0]);
  }

  async register(
    input: { commandId?: string; hostId?: string; spec: HostSpecInput; state?: HostState },
    call?: CallDeadline,
  ): Promise<ActiveHost> {
    const hostId = input.hostId || (await priorId(this.batcher.store, input.commandId, 'host-', call)) || `h-${newId().slice(0, 8)}`;
    const host = await this.run(
      hostId,
      input.commandId,
      (config) => ({
        type: 'RegisterHost',
        hostId,
        spec: input.spec,
        initialState: input.state ?? 'enabled',
        profiles: config.config.profiles,
      }),
      call,
    );
    return activeOrNotFound(host, hostId);
  }

  async update(
    input: { commandId?: string; hostId: string; spec: HostSpecInput; expectedGeneration?: number },
    call?: CallDeadline,
  ): Promise<ActiveHost> {
    const host = await this.run(
      input.hostId,
      input.commandId,
      (config) => ({
        type: 'UpdateHost',
        spec: input.spec,
        profiles: config.config.profiles,
        ...(input.expectedGeneration === undefined ? {} : { expectedGeneration: input.expectedGeneration }),
      }),
      call,
    );
    return activeOrNotFound(host, input.hostId);
  }

  async remove(input: { commandId?: string; hostId: string; reason: string }, call?: CallDeadline): Promise<void> {
    const host = await this.run(input.hostId, input.commandId, () => ({ type: 'RemoveHost', reason: input.reason }), call);
    if (host.status === 'absent') throw new NotFoundError('host', input.hostId);
  }

  async setState(
    input: { commandId?: string; hostId: string; state: HostState; reason: string },
    call?: CallDeadline,
  ): Promise<ActiveHost> {
    const host = await this.run(
      input.hostId,
      input.commandId,
      () => ({ type: 'SetHostState', to: input.state, reason: input.reason }),
      call,
    );
    return activeOrNotFound(host, input.hostId);
  }

  async get(hostId: string, call?: CallDeadline): Promise<ActiveHost> {
    checkHostId(hostId);
    return activeOrNotFound((await this.batcher.readFresh(hostAggregate.stream(hostStreamId(hostId)), call)).state, hostId);
  }

  async applyHardwareConfig(input: { commandId?: string; config: HardwareConfig; source: string }, call?: CallDeadline): Promise<number> {
    const r = await this.batcher.execute(
      {
        streamIds: [HARDWARE_CONFIG_STREAM],
        ...(input.commandId ? { commandId: input.commandId } : {}),
        decide: ([config]) => [
          decideHardwareConfig({ type: 'ApplyHardwareConfig', config: input.config, source: input.source }, hardwareConfigOf(config)),
        ],
      },
      call,
    );
    return hardwareConfigOf(r.states[0]).version;
  }

  async hardwareConfig(call?: CallDeadline): Promise<HardwareConfigState> {
    return (await this.batcher.readFresh(hardwareConfigAggregate.stream(HARDWARE_CONFIG_STREAM), call)).state;
  }
}
