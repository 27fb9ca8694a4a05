import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { headers as natsHeaders, type NatsConnection, type Subscription } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
import { z } from 'zod';
import { eventSchemas, type EventCatalog, type EventEnvelope } from '@berth/contracts';
import { deletePrefixedStreams, eventually, infraAvailable, natsUrl, testSubjectPrefix } from '@berth/testing';
import { connectNats } from './connect.ts';
import { startConsumer, type ConsumerOptions, type RunningConsumer } from './consumer.ts';
import { DeadLetterHeaders } from './dead-letter.ts';
import { ack } from './results.ts';
import { eventSubject } from './names.ts';
import { ensureStreams } from './streams.ts';
import { makeEvent } from './testing/jetstream.ts';

const enc = new TextEncoder();

describe.skipIf(!(await infraAvailable('nats')))('the consumer edge: catalog checks and dead letters', () => {
  const prefix = testSubjectPrefix('edge');
  let nc: NatsConnection;
  const running: RunningConsumer[] = [];
  const subs: Subscription[] = [];
  let n = 0;

  beforeAll(async () => {
    nc = await connectNats({ url: natsUrl(), name: 'messaging-edge-test' });
    await ensureStreams(nc, { prefix });
  });
  afterEach(async () => {
    await Promise.all(running.splice(0).map((c) => c.stop()));
    for (const s of subs.splice(0)) s.unsubscribe();
  });
  afterAll(async () => {
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
  });

  const start = async (streamType: string, extra: Partial<ConsumerOptions> = {}) => {
    n += 1;
    const durable = `edge-${n}`;
    const handled: EventEnvelope[] = [];
    const dead: { reason: string; subject: string; seq: string; body: string }[] = [];
    const sub = nc.subscribe(`${prefix}.berth.dlq.${durable}`, {
      callback: (_e, m) => {
        dead.push({
          reason: m.headers?.get(DeadLetterHeaders.reason) ?? '',
          subject: m.headers?.get(DeadLetterHeaders.subject) ?? '',
          seq: m.headers?.get(DeadLetterHeaders.streamSequence) ?? '',
          body: m.string(),
        });
      },
    });
    subs.push(sub);
    await nc.flush();
    const c = await startConsumer({
      nc,
      prefix,
      stream: 'BERTH_INVENTORY',
      durable,
      filterSubject: `berth.inventory.${streamType}.>`,
      handle: async (env) => (handled.push(env), ack()),
      backoffMillis: [50],
      ...extra,
    });
    running.push(c);
    return { handled, dead };
  };

  const js = () => jetstream(nc);
  const send = (type: string, body: string | Uint8Array, streamType = 'vm') =>
    js().publish(`${prefix}.${eventSubject('inventory', `${streamType}-e1`, type)}`, typeof body === 'string' ? enc.encode(body) : body);
  const stopped = (data: unknown, over: Partial<EventEnvelope> = {}) =>
    JSON.stringify(makeEvent({ type: 'VmStopped', streamId: 'vm-e1', data, ...over }));
  const valid = { hostId: 'h1', hypervisorUri: 'test:///default' };

  it('dead-letters every kind of lying event with its reason, acks it on the original, and keeps consuming', async () => {
    const { handled, dead } = await start('vm');
    await send('VmStopped', stopped(valid));
    await send('VmStopped', stopped({ hostId: 7, hypervisorUri: 'test:///default' })); // wrong type
    await send('VmStopped', stopped({ hypervisorUri: 'test:///default' })); // missing field
    await send('VmStopped', stopped(valid).slice(0, 40)); // truncated
    await send('VmStopped', new Uint8Array([0xff, 0xfe, 0x00, 0x7b])); // not UTF-8
    await send('VmStopped', stopped(valid, { schemaVersion: 9 })); // unknown version
    await send('VmTeleported', JSON.stringify(makeEvent({ type: 'VmTeleported', data: {} }))); // unknown type
    await send('VmStopped', JSON.stringify(makeEvent({ type: 'VmBecameRunning', data: valid }))); // subject lies about the type
    await send('VmStopped', stopped({ ...valid, padding: 'x'.repeat(600 * 1024) })); // oversized
    await send('VmStopped', stopped(valid, { project: 'acme' })); // subject lies about the project (default)
    await send('VmStopped', stopped({ hostId: 'h2', hypervisorUri: 'test:///default' }));

    await eventually(() => handled.length === 2 && dead.length === 9, 'two handled, nine dead letters', 30_000);
    expect(handled.map((e) => (e.data as { hostId: string }).hostId)).toEqual(['h1', 'h2']);
    const reasons = dead.map((d) => d.reason);
    expect(reasons[0]).toMatch(/^poison: invalid VmStopped v1 data: hostId: /);
    expect(reasons[1]).toMatch(/^poison: invalid VmStopped v1 data: hostId: /);
    expect(reasons[2]).toMatch(/^poison: unparseable JSON/);
    expect(reasons[3]).toMatch(/^poison: unparseable JSON/);
    expect(reasons[4]).toMatch(/^poison: unknown schema version 9 of VmStopped/);
    expect(reasons[5]).toMatch(/^poison: unknown event type inventory\/VmTeleported/);
    expect(reasons[6]).toMatch(/^poison: envelope type VmBecameRunning does not match subject/);
    expect(reasons[7]).toMatch(/^poison: oversized: \d+ bytes, this consumer takes at most 524288/);
    expect(reasons[8]).toMatch(/^poison: envelope project acme does not match subject .*\.berth\.inventory\.vm\.default\.VmStopped$/);
    // Each dead letter names where the original is: subject and stream sequence.
    for (const d of dead) {
      expect(d.subject).toMatch(new RegExp(`^${prefix}\\.berth\\.inventory\\.vm\\.`));
      expect(Number(d.seq)).toBeGreaterThan(0);
    }
    expect(dead[0]!.body).toContain('"hostId":7');
  });

  it('upcasts an event written at an older version before the handler sees it (v1 → v2)', async () => {
    // A catalog where VmStopped is at version 2 (it gained `how`); version-1 data is upcast.
    const v2 = eventSchemas.objectOf<{ hostId: string; hypervisorUri: string; how: 'graceful' | 'forced' | 'unknown' }>()({
      hostId: z.string().min(1),
      hypervisorUri: z.string().min(1),
      how: z.enum(['graceful', 'forced', 'unknown']),
    });
    const catalog: EventCatalog = {
      inventory: {
        VmStopped: { version: 2, schema: v2, upcasters: { 1: (d) => ({ ...(d as object), how: 'unknown' }) } },
      },
    };
    const { handled, dead } = await start('upcast', { events: catalog });
    await send('VmStopped', stopped(valid), 'upcast');
    await send('VmStopped', stopped({ ...valid, hostId: 'h2', how: 'forced' }, { schemaVersion: 2 }), 'upcast');
    await send('VmStopped', stopped({ ...valid, hostId: 'h3' }, { schemaVersion: 3 }), 'upcast');
    await eventually(() => handled.length === 2 && dead.length === 1, 'two handled, one dead', 30_000);
    expect(handled.map((e) => [e.schemaVersion, e.data])).toEqual([
      [2, { ...valid, how: 'unknown' }],
      [2, { ...valid, hostId: 'h2', how: 'forced' }],
    ]);
    expect(dead[0]!.reason).toMatch(/unknown schema version 3 of VmStopped \(this consumer reads up to 2\)/);
  });

  it('hands an event published under a former name to a consumer of its current type, under that name (the real catalog)', async () => {
    const { handled, dead } = await start('vm', { types: ['VmBecameRunning', 'VmDeleteRequested'] });
    const old = (type: string, data: unknown) => JSON.stringify(makeEvent({ type, streamId: 'vm-renamed', data }));
    // As streams of an installation before the renames hold them: former name, version 1, the sentinel location.
    await send('VmRunning', old('VmRunning', valid));
    await send('VmDeleteRequested', old('VmDeleteRequested', { hostId: '', hypervisorUri: '' }));
    await eventually(() => handled.filter((e) => e.streamId === 'vm-renamed').length === 2, 'both renamed events', 30_000);
    expect(handled.filter((e) => e.streamId === 'vm-renamed').map((e) => [e.type, e.schemaVersion, e.data])).toEqual([
      ['VmBecameRunning', 1, valid],
      ['VmDeleteRequested', 2, {}],
    ]);
    expect(dead).toEqual([]);
  });

  it('keeps the original headers on the dead letter (type, trace) beside the reason', async () => {
    const { dead } = await start('host');
    const h = natsHeaders();
    h.set('Berth-Event-Type', 'HostRemoved');
    h.set('traceparent', '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01');
    await js().publish(
      `${prefix}.berth.inventory.host.HostRemoved`,
      enc.encode(JSON.stringify(makeEvent({ type: 'HostRemoved', streamId: 'host-h1', data: {} }))),
      {
        headers: h,
      },
    );
    await eventually(() => dead.length === 1, 'dead letter', 30_000);
    expect(dead[0]!.reason).toMatch(/invalid HostRemoved v1 data: reason: /);
  });
});
