import { describe, expect, it } from 'vitest';
import { DEFAULT_CAPS } from '../domain/caps/caps.ts';
import { GiB, numaHost, vmSpec } from '../testing/evacuation-hosts.ts';
import { PERFORMANCE_WARNING } from '../domain/evacuation/plan.ts';
import { AdmissionGate } from './admission.ts';
import type { EvacuationCommand } from '../domain/evacuation/decide.ts';
import type { Evacuation } from '../domain/evacuation/state.ts';
import type { MigrationStarter, MoveRequest, StartedMove } from './evacuation-ports.ts';
import { EvacuationRunner } from './evacuations.ts';
import { FakeInventory, InMemoryEvacuationLog } from '../testing/in-memory-ports.ts';

/** Starts moves by taking the destination claim; the test ends them one by one. */
class ManualStarter implements MigrationStarter {
  readonly started: MoveRequest[] = [];
  readonly aborted: string[] = [];
  /** VMs whose start answers with a migration that has already completed (a retried start). */
  readonly alreadyEnded = new Set<string>();
  constructor(private readonly inventory: FakeInventory) {}
  async start(r: MoveRequest): Promise<StartedMove> {
    const claim = this.inventory.claimDestination(r.vmId, r.destinationHostId);
    if (typeof claim === 'string') throw new Error(claim);
    this.started.push(r);
    if (!this.alreadyEnded.has(r.vmId)) return { migrationId: `m-${r.commandId}` };
    this.inventory.switchOver(r.vmId, r.destinationHostId, true);
    return { migrationId: `m-${r.commandId}`, ended: { outcome: 'completed', reason: `now on ${r.destinationHostId}` } };
  }
  async abort(migrationId: string): Promise<void> {
    this.aborted.push(migrationId);
  }
}

/** A log whose RecordMoveEnded appends wait while `held` is set (a slow round trip to the log). */
class HeldLog extends InMemoryEvacuationLog {
  held: Promise<void> | undefined;
  override async execute(hostId: string, commandId: string, command: EvacuationCommand, known?: Evacuation): Promise<Evacuation> {
    if (command.type === 'RecordMoveEnded' && this.held) await this.held;
    return super.execute(hostId, commandId, command, known);
  }
}

function setup(caps = DEFAULT_CAPS, log = new InMemoryEvacuationLog()) {
  const inventory = new FakeInventory();
  inventory.addHost(numaHost('src'));
  inventory.addHost(numaHost('dst-a'));
  inventory.addHost(numaHost('dst-b'));
  inventory.place('src', vmSpec({ vmId: 'plain', vcpus: 2, memoryBytes: 4 * GiB, priority: 1 }));
  inventory.place('src', vmSpec({ vmId: 'low', vcpus: 1, memoryBytes: 1 * GiB, priority: 0 }));
  inventory.place(
    'src',
    vmSpec({
      vmId: 'pinned-hp',
      vcpus: 4,
      memoryBytes: 8 * GiB,
      priority: 10,
      highPerformance: true,
      cpuPolicy: 'dedicated',
      passthroughCpu: true,
      numaNodes: [{ vcpus: 4, memoryBytes: 8 * GiB, pinnedHostNode: 0 }],
      migrationMode: 'manual',
    }),
  );
  inventory.place('src', vmSpec({ vmId: 'stuck', vcpus: 1, memoryBytes: 2 * GiB, priority: 5, migrationMode: 'none' }));
  const starter = new ManualStarter(inventory);
  const gate = new AdmissionGate(caps);
  let now = Date.parse('2026-12-01T00:00:00Z');
  const runner = new EvacuationRunner({
    fleet: inventory,
    hosts: inventory,
    migrations: starter,
    log,
    gate,
    clock: { now: () => now },
    retryMillis: 30_000,
    onError: (_h, e) => {
      throw e;
    },
  });
  const finish = async (vmId: string) => {
    const r = starter.started.find((s) => s.vmId === vmId)!;
    inventory.switchOver(vmId, r.destinationHostId, true);
    await runner.migrationEnded(vmId, `m-${r.commandId}`, 'completed', 'switched over');
    await runner.idle('src');
  };
  return { inventory, log, starter, gate, runner, finish, tick: (ms: number) => (now += ms) };
}

describe('EvacuationRunner', () => {
  it('drains a host: high priority first within the caps, the none VM blocks with its reason until stopped, then the host reaches maintenance', async () => {
    const { inventory, starter, runner, finish, gate, tick } = setup();
    const plan = await runner.plan('src');
    expect(plan.moves.map((m) => m.vmId)).toEqual(['pinned-hp', 'plain', 'low']);
    expect(plan.moves[0]!.warnings).toEqual([PERFORMANCE_WARNING]);
    expect(inventory.stateChanges).toEqual([]); // planning changes nothing

    const started = await runner.start('src', 'operator', 'cmd-1');
    expect(started.status).toBe('running');
    await runner.idle('src');
    expect(inventory.hosts.get('src')!.capacity.state).toBe('maintenance-preparing');
    // Two out of a host at once: the two highest priorities go first.
    expect(starter.started.map((s) => s.vmId)).toEqual(['pinned-hp', 'plain']);
    expect(gate.running).toBe(2);
    let e = await runner.get('src');
    expect(e.status === 'running' && e.warnings).toEqual([{ vmId: 'pinned-hp', warning: PERFORMANCE_WARNING }]);

    await finish('pinned-hp');
    expect(starter.started.map((s) => s.vmId)).toEqual(['pinned-hp', 'plain', 'low']);
    await finish('plain');
    await finish('low');
    e = await runner.get('src');
    expect(e.status).toBe('running');
    if (e.status !== 'running') throw new Error('unreachable');
    expect(e.waiting.map((w) => [w.vmId, w.kind])).toEqual([['stuck', 'mode-none']]);
    expect(e.waiting[0]!.remedies.join(' ')).toMatch(/stop it/);
    expect(e.nextRetryAt).toBe('2026-12-01T00:00:30.000Z');
    expect(inventory.hosts.get('src')!.capacity.state).toBe('maintenance-preparing');

    // The operator stops it: the next pass moves it cold, and the drain completes.
    inventory.stop('stuck');
    tick(30_000);
    await runner.resumeAll();
    await runner.idle('src');
    expect(starter.started.at(-1)).toMatchObject({ vmId: 'stuck', kind: 'cold' });
    const r = starter.started.at(-1)!;
    inventory.switchOver('stuck', r.destinationHostId, false);
    await runner.migrationEnded('stuck', `m-${r.commandId}`, 'completed', 'moved');
    await runner.idle('src');
    e = await runner.get('src');
    expect(e.status).toBe('completed');
    expect(inventory.hosts.get('src')!.capacity.state).toBe('maintenance');
    expect(inventory.overcommitted).toBe(0);
    expect(e.status === 'completed' && e.history.map((h) => [h.vmId, h.outcome])).toEqual([
      ['pinned-hp', 'completed'],
      ['plain', 'completed'],
      ['low', 'completed'],
      ['stuck', 'completed'],
    ]);
  });

  it('a failed move is retried elsewhere, the failed destination excluded', async () => {
    const { inventory, starter, runner } = setup();
    await runner.start('src', 'operator', 'cmd-1');
    await runner.idle('src');
    const first = starter.started.find((s) => s.vmId === 'plain')!;
    inventory.rollBack('plain', first.destinationHostId, true);
    await runner.migrationEnded('plain', `m-${first.commandId}`, 'failed', 'destination define failed');
    await runner.idle('src');
    const retry = starter.started.filter((s) => s.vmId === 'plain');
    expect(retry).toHaveLength(2);
    expect(retry[1]!.destinationHostId).not.toBe(first.destinationHostId);
    expect(retry[1]!.commandId).toMatch(/:plain:2$/);
  });

  it("a completed move's slot goes to the next VM of its drain before the end is recorded; a failed one's only after", async () => {
    const log = new HeldLog();
    const { inventory, starter, runner, gate } = setup(DEFAULT_CAPS, log);
    await runner.start('src', 'operator', 'cmd-1');
    await runner.idle('src');
    expect(starter.started.map((s) => s.vmId)).toEqual(['pinned-hp', 'plain']);
    let open!: () => void;
    log.held = new Promise((r) => (open = r));
    const first = starter.started[0]!;
    inventory.switchOver('pinned-hp', first.destinationHostId, true);
    const ended = runner.migrationEnded('pinned-hp', `m-${first.commandId}`, 'completed', 'switched over');
    await runner.idle('src');
    // The end is not in the log yet, and the host's second slot out is already taken again.
    const e = await runner.get('src');
    expect(e.status === 'running' && [...e.running.keys()].sort()).toEqual(['low', 'pinned-hp', 'plain']);
    expect(starter.started.map((s) => s.vmId)).toEqual(['pinned-hp', 'plain', 'low']);
    expect(gate.running).toBe(2);
    open();
    await ended;
    await runner.idle('src');

    // A failed move keeps its slot until its end is recorded: nothing takes it meanwhile.
    log.held = new Promise((r) => (open = r));
    const plain = starter.started[1]!;
    inventory.rollBack('plain', plain.destinationHostId, true);
    const failed = runner.migrationEnded('plain', `m-${plain.commandId}`, 'failed', 'destination define failed');
    await runner.idle('src');
    expect(gate.holds('plain')).toBe(true);
    open();
    await failed;
    await runner.idle('src');
    expect(starter.started.filter((s) => s.vmId === 'plain').map((s) => s.commandId)).toEqual([
      plain.commandId,
      plain.commandId.replace(/:1$/, ':2'),
    ]);
  });

  it('a freed slot goes first to the waiting drain with the most VMs left to start', async () => {
    const { inventory, starter, runner, gate } = setup({ fleet: 2, outboundPerHost: 2, inboundPerHost: 2 });
    inventory.addHost(numaHost('src2'));
    for (const vmId of ['x1', 'x2', 'x3']) inventory.place('src2', vmSpec({ vmId }));
    await runner.start('src', 'operator', 'a');
    await runner.idle('src');
    await runner.start('src2', 'operator', 'b');
    await runner.idle('src2');
    // src took both slots (one VM of it left to start, and 'stuck' blocked); src2 waits with three.
    expect(starter.started.map((s) => s.vmId)).toEqual(['pinned-hp', 'plain']);
    const first = starter.started[0]!;
    inventory.switchOver('pinned-hp', first.destinationHostId, true);
    await runner.migrationEnded('pinned-hp', `m-${first.commandId}`, 'completed', 'switched over');
    await Promise.all([runner.idle('src'), runner.idle('src2')]);
    expect(starter.started.map((s) => s.sourceHostId)).toEqual(['src', 'src', 'src2']);
    expect(gate.running).toBe(2);
  });

  it('cancel: no new moves, running ones aborted when asked, the host back to its previous state', async () => {
    const { inventory, starter, runner } = setup();
    await runner.start('src', 'operator', 'cmd-1');
    await runner.idle('src');
    const e = await runner.cancel('src', true, 'changed my mind', 'cancel-1');
    expect(e.status).toBe('cancelling');
    expect(starter.aborted).toHaveLength(2);
    for (const s of [...starter.started]) {
      inventory.rollBack(s.vmId, s.destinationHostId, true);
      await runner.migrationEnded(s.vmId, `m-${s.commandId}`, 'aborted', 'cancelled');
    }
    await runner.idle('src');
    expect(starter.started).toHaveLength(2);
    expect((await runner.get('src')).status).toBe('cancelled');
    expect(inventory.hosts.get('src')!.capacity.state).toBe('enabled');
  });

  it('a start answered with a migration that already ended is recorded as ended and gives its slot back', async () => {
    const { starter, runner, gate, finish } = setup();
    starter.alreadyEnded.add('low');
    await runner.start('src', 'operator', 'cmd-1');
    await runner.idle('src');
    await finish('pinned-hp');
    await finish('plain');
    const e = await runner.get('src');
    expect(e.status).toBe('running');
    if (e.status !== 'running') return;
    expect([...e.running.keys()]).toEqual([]);
    expect(e.history.find((h) => h.vmId === 'low')?.outcome).toBe('completed');
    expect(gate.running).toBe(0); // every slot back: nothing waits on a move that ended
  });

  it('a slot given back by a migration of another kind goes to the waiting drain at once, not at its next timer pass', async () => {
    const { starter, runner, gate } = setup({ fleet: 1, outboundPerHost: 2, inboundPerHost: 2 });
    expect(gate.tryAcquire({ vmId: 'manual-vm', sourceHostId: 'dst-a' }).admitted).toBe(true);
    await runner.start('src', 'operator', 'cmd-1');
    await runner.idle('src');
    expect(starter.started).toEqual([]);
    // What reportMigrationEnd does when a manual (or balancer) migration ends.
    gate.release('manual-vm');
    runner.slotFreed();
    await runner.idle('src');
    expect(starter.started.map((m) => m.vmId)).toEqual(['pinned-hp']);
    expect(gate.running).toBe(1);
  });

  it('a pass that changes nothing of what waits records nothing, and starts nothing twice', async () => {
    const { starter, runner, log } = setup();
    await runner.start('src', 'operator', 'cmd-1');
    await runner.idle('src');
    const events = log.streams.get('src')!.events.length;
    for (let i = 0; i < 3; i++) {
      runner.changed('src'); // a VM event or the host's snapshot
      await runner.idle('src');
    }
    expect(log.streams.get('src')!.events).toHaveLength(events);
    expect(starter.started.map((m) => m.vmId)).toEqual(['pinned-hp', 'plain']);
    runner.changed('elsewhere'); // no drain there: nothing to do, nothing read
    await runner.idle('elsewhere');
    expect(log.streams.has('elsewhere')).toBe(false);
  });

  it('never exceeds the fleet cap across several drains', async () => {
    const { inventory, runner, gate } = setup({ fleet: 3, outboundPerHost: 2, inboundPerHost: 2 });
    inventory.addHost(numaHost('src2'));
    inventory.place('src2', vmSpec({ vmId: 'x1' }));
    inventory.place('src2', vmSpec({ vmId: 'x2' }));
    await Promise.all([runner.start('src', 'operator', 'a'), runner.start('src2', 'operator', 'b')]);
    await Promise.all([runner.idle('src'), runner.idle('src2')]);
    expect(gate.running).toBe(3);
    expect(gate.maxConcurrentObserved).toBe(3);
  });
});
