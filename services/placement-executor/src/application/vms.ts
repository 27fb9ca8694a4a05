import { executorEvents } from '@berth/contracts';
import { handleCommand, type EventStreams } from '@berth/event-store';
import type { VmCommand } from '../domain/vm/commands.ts';
import { decide } from '../domain/vm/decide.ts';
import type { VmEvent } from '../domain/vm/events.ts';
import { evolve, initialState, type VmState } from '../domain/vm/state.ts';

export interface VmCommandResult {
  readonly state: VmState;
  readonly appended: readonly string[];
}

/** The one command path for VM streams: load -> fold -> decide -> append with expected version. */
export class Vms {
  constructor(private readonly store: EventStreams) {}

  async execute(vmId: string, command: VmCommand, commandId?: string): Promise<VmCommandResult> {
    const r = await handleCommand<VmState, VmCommand, VmEvent>({
      store: this.store,
      streamId: executorEvents.executorVmStreamId(vmId),
      decide,
      evolve,
      initialState,
      command,
      maxRetries: 5,
      ...(commandId !== undefined ? { commandId } : {}),
    });
    return { state: r.state, appended: r.duplicate ? [] : r.events.map((e) => e.type) };
  }

  async load(vmId: string): Promise<VmState> {
    const { events } = await this.store.readStream(executorEvents.executorVmStreamId(vmId));
    return events.reduce((s, e) => evolve(s, e as unknown as VmEvent), initialState());
  }
}
