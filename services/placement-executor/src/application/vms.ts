import { executorEvents } from '@berth/contracts';
import type { CallDeadline } from '@berth/errors';
import { aggregate, CommandBatcher, evolveStored, sameAsTentative, type PostgresEventStore } from '@berth/event-store';
import type { VmCommand } from '../domain/vm/commands.ts';
import { decide } from '../domain/vm/decide.ts';
import type { VmEvent } from '../domain/vm/events.ts';
import { evolve, initialState, type VmState } from '../domain/vm/state.ts';

export interface VmCommandResult {
  readonly state: VmState;
  readonly appended: readonly string[];
}

/** Stored events folded as the VM stream's own events (checked by type; see `evolveStored`). */
const evolveVmStored = evolveStored<VmState, VmEvent>(
  {
    DomainProvisioningStarted: true,
    VolumesCreated: true,
    DomainDefined: true,
    DomainStarted: true,
    VmStarted: true,
    DomainProvisionFailed: true,
    OperationRequested: true,
    DomainStopped: true,
    DomainDeleted: true,
    DomainOperationFailed: true,
    DomainDriftDetected: true,
    VmMigrationStarted: true,
    VmMigrationProgressed: true,
    VmMigrationCancelRequested: true,
    VmMigrated: true,
    VmMigrationFailed: true,
    VmMigrationPostCopyPaused: true,
  },
  evolve,
);

const vmStreams = aggregate<VmState>({ prefix: 'vm-', initial: initialState, evolve: evolveVmStored, adoptTentative: sameAsTentative });

/**
 * The one command path for VM streams: fold -> decide -> append with the expected version, through
 * a CommandBatcher (commands of concurrent VMs share one statement; folded states stay in memory).
 */
export class Vms {
  private readonly batcher: CommandBatcher;

  constructor(store: PostgresEventStore) {
    this.batcher = new CommandBatcher(store, { aggregates: [vmStreams] });
  }

  async execute(vmId: string, command: VmCommand, commandId?: string): Promise<VmCommandResult> {
    const streamId = executorEvents.executorVmStreamId(vmId);
    const r = await this.batcher.execute({
      streamIds: [streamId],
      ...(commandId !== undefined ? { commandId } : {}),
      // The first placement creates the VM's stream: not read first (an existing one conflicts and is read then).
      ...(command.type === 'Provision' && command.location.attempt === 1 ? { newStreams: [streamId] } : {}),
      decide: ([s]) => [decide(command, vmStreams.of(s!).state)],
    });
    return { state: vmStreams.of(r.states[0]!).state, appended: r.duplicate ? [] : r.events[0]!.map((e) => e.type) };
  }

  /** The VM as this executor last recorded it (read from the log when not in memory). */
  async load(vmId: string, call?: CallDeadline): Promise<VmState> {
    return (await this.batcher.read(vmStreams.stream(executorEvents.executorVmStreamId(vmId)), call)).state;
  }
}
