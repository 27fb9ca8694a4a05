import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { connectTestNats, infraAvailable } from '@berth/testing';
import { readEventLog } from './harness/event-log.ts';
import { allDrained as drainedAll, DECLARED_DURABLES, deadLetters, republish, streamMessages } from './harness/jetstream-audit.ts';
import { startSimPlane, type SimPlane } from './harness/sim-plane.ts';

/** Each durable of infra/nats/consumers.json and a subject of a type its handler takes. */
const CONSUMERS = [
  { durable: 'scheduler-vm-requested', stream: 'BERTH_INVENTORY', subject: 'berth.inventory.vm.default.VmRequested', streamId: 'vm-fuzz' },
  { durable: 'executor-vm-commands', stream: 'BERTH_INVENTORY', subject: 'berth.inventory.vm.default.VmPlaced', streamId: 'vm-fuzz' },
  { durable: 'telemetry-vm-specs', stream: 'BERTH_INVENTORY', subject: 'berth.inventory.vm.default.VmRequested', streamId: 'vm-fuzz' },
  { durable: 'executor-host-registry', stream: 'BERTH_INVENTORY', subject: 'berth.inventory.host.HostRegistered', streamId: 'host-fuzz' },
  { durable: 'inventory-executor-events', stream: 'BERTH_EXECUTOR', subject: 'berth.executor.vm.VmStarted', streamId: 'vm-fuzz' },
  { durable: 'migration-executor-events', stream: 'BERTH_EXECUTOR', subject: 'berth.executor.vm.VmMigrationStarted', streamId: 'vm-fuzz' },
  {
    durable: 'executor-migration-commands',
    stream: 'BERTH_MIGRATION',
    subject: 'berth.migration.migration.DestinationClaimed',
    streamId: 'migration-fuzz',
  },
  { durable: 'migration-vm-events', stream: 'BERTH_INVENTORY', subject: 'berth.inventory.vm.default.VmRequested', streamId: 'vm-fuzz' },
  { durable: 'migration-host-states', stream: 'BERTH_INVENTORY', subject: 'berth.inventory.host.HostStateChanged', streamId: 'host-fuzz' },
  // The scheduler's dead letters (inventory fails the VM of each): its true message, a copy of a real VmRequested put there.
  {
    durable: 'inventory-dead-requests',
    stream: 'BERTH_DLQ',
    subject: 'berth.dlq.scheduler-vm-requested',
    streamId: 'vm-fuzz',
    real: { stream: 'BERTH_INVENTORY', subject: 'berth.inventory.vm.default.VmRequested' },
  },
] as const;

/** The durables infra/nats/consumers.json declares: the list above must name each of them. */
const DECLARED: readonly string[] = DECLARED_DURABLES.map((c) => c.durable);

const envelope = (type: string, streamId: string, data: unknown, schemaVersion = 1): string =>
  JSON.stringify({
    id: randomUUID(),
    type,
    schemaVersion,
    streamId,
    streamPosition: 1,
    globalPosition: '1',
    occurredAt: new Date().toISOString(),
    data,
  });

/** The lies told on each consumer's subject, and the reason its dead letter must give. */
const LIES: readonly { name: string; body: (type: string, streamId: string) => string; reason: RegExp }[] = [
  { name: 'data failing its schema', body: (t, s) => envelope(t, s, { garbage: true }), reason: /^poison: invalid \w+ v1 data: / },
  { name: 'truncated', body: (t, s) => envelope(t, s, { a: 1 }).slice(0, 57), reason: /^poison: unparseable JSON/ },
  { name: 'unknown version', body: (t, s) => envelope(t, s, {}, 99), reason: /^poison: unknown schema version 99 / },
  {
    name: 'oversized',
    body: (t, s) => envelope(t, s, { padding: 'x'.repeat(600 * 1024) }),
    reason: /^poison: oversized: \d+ bytes/,
  },
];

/**
 * Events that lie, on every consumer's subjects, with the whole plane running (real processes or
 * composition roots, Postgres, NATS): each ends in `berth.dlq.<durable>` with its reason, is acked
 * on the original, and the consumer keeps consuming. Then every event the plane published is
 * delivered again, twice, shuffled: no service's log changes.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('event fuzzing on every consumer', () => {
  let plane: SimPlane;
  let nc: NatsConnection;
  const stream = (s: string) => `${plane.prefix.toUpperCase()}_${s}`;
  const logSizes = async () =>
    Object.fromEntries(
      await Promise.all(
        (['inventory', 'executor', 'migration'] as const).map(async (s) => [s, (await readEventLog(plane.dbs[s].url)).length] as const),
      ),
    );
  const allDrained = () => drainedAll(nc, plane.prefix);

  beforeAll(async () => {
    plane = await startSimPlane('fuzzev', ['h1', 'h2']);
    nc = await connectTestNats();
    await plane.compose('vm-a');
    await plane.migrate('vm-a', (await plane.fleet.driver('sim://h1').state('vm-a')) === 'running' ? 'h2' : 'h1');
    // A real HostStateChanged for migration-host-states' edge (no drain: never maintenance).
    const HS = modelV1.HostState;
    for (const [n, state] of [HS.HOST_STATE_NO_SCHEDULING, HS.HOST_STATE_ENABLED].entries())
      await callUnary(plane.inventory, 'setHostState', { meta: { commandId: `fuzzev-state-${n}` }, hostId: 'h2', state, reason: 'fuzz' });
  });
  afterAll(async () => {
    await nc?.close();
    await plane?.stop();
  });

  it('fuzzes every durable infra/nats/consumers.json declares', () => {
    expect(CONSUMERS.map((c) => c.durable).sort()).toEqual([...DECLARED].sort());
  });

  it("lets every real event of a compose and a migration through every consumer's edge", async () => {
    await allDrained();
    expect(await deadLetters(nc, plane.prefix)).toEqual([]);
  });

  it('dead-letters every lie with its reason on every consumer, which keeps consuming', async () => {
    const js = jetstream(nc);
    const sent: { durable: string; seq: number; reason: RegExp; lie: string }[] = [];
    const valid: { durable: string; seq: number }[] = [];
    const jsm = await jetstreamManager(nc);
    // The true message each consumer gets after its lies: the last real event of its subject, delivered again.
    const reals = await Promise.all(
      CONSUMERS.map((c) => {
        const from = 'real' in c ? c.real : c;
        return jsm.streams.getMessage(stream(from.stream), { last_by_subj: `${plane.prefix}.${from.subject}` });
      }),
    );
    for (const [i, c] of CONSUMERS.entries()) {
      // The event type the consumer takes (a dead-letter subject names its durable instead).
      const type = ('real' in c ? c.real.subject : c.subject).split('.').at(-1)!;
      for (const lie of LIES) {
        const ack = await js.publish(`${plane.prefix}.${c.subject}`, lie.body(type, c.streamId));
        sent.push({ durable: c.durable, seq: ack.seq, reason: lie.reason, lie: lie.name });
      }
      valid.push({ durable: c.durable, seq: await republish(nc, reals[i]!, `${plane.prefix}.${c.subject}`) });
    }
    await allDrained();
    const dead = await deadLetters(nc, plane.prefix);
    for (const s of sent) {
      const found = dead.find((d) => d.durable === s.durable && d.streamSeq === s.seq);
      expect(found, `${s.durable}: ${s.lie}`).toBeDefined();
      expect(found!.reason, `${s.durable}: ${s.lie}`).toMatch(s.reason);
    }
    for (const v of valid) expect(dead.find((d) => d.durable === v.durable && d.streamSeq === v.seq)).toBeUndefined();
    // Still consuming, for real: a new VM is placed, provisioned and migrated through the same consumers.
    await plane.compose('vm-b');
    await plane.migrate('vm-b', (await plane.fleet.driver('sim://h1').state('vm-b')) === 'running' ? 'h2' : 'h1');
  });

  it('changes nothing when every published event is delivered again, twice, out of order', async () => {
    await allDrained();
    const before = await logSizes();
    const deadBefore = (await deadLetters(nc, plane.prefix)).length;
    const poison = new Set((await deadLetters(nc, plane.prefix)).map((d) => `${d.stream}:${d.streamSeq}`));
    const all = [];
    for (const s of ['BERTH_INVENTORY', 'BERTH_EXECUTOR', 'BERTH_MIGRATION']) {
      for (const m of await streamMessages(nc, stream(s))) if (!poison.has(`${stream(s)}:${m.seq}`)) all.push(m, m);
    }
    // A fixed shuffle (seeded), so a failure can be replayed.
    let seed = 20261206;
    const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let i = all.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [all[i], all[j]] = [all[j]!, all[i]!];
    }
    for (const m of all) await republish(nc, m);
    await allDrained();
    await new Promise((r) => setTimeout(r, 2000)); // work kicked off by a handler (provisioner, runner) settles
    await allDrained();
    const after = await logSizes();
    const deadAfter = (await deadLetters(nc, plane.prefix)).length;
    // Its audit (issue 16, "Clock and ordering"): events a service's log lost or gained from the copies.
    const diff = Object.keys(before).map((k) => after[k]! - before[k]!);
    console.log(
      JSON.stringify({
        test: 'event-redelivery',
        redelivered: all.length,
        lost: diff.filter((d) => d < 0).reduce((n, d) => n - d, 0),
        duplicated: diff.filter((d) => d > 0).reduce((n, d) => n + d, 0),
        deadLettered: deadAfter - deadBefore,
      }),
    );
    expect({ redelivered: all.length, logs: after, deadLetters: deadAfter }).toEqual({
      redelivered: all.length,
      logs: before,
      deadLetters: deadBefore,
    });
    expect(all.length).toBeGreaterThan(40);
  });
});
