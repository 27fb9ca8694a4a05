import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { hostSnapshot } from '@berth/fit';
import { ensureStreams, openKv } from '@berth/messaging';
import { connectTestNats, infraAvailable, testSubjectPrefix } from '@berth/testing';
import { HOST_SNAPSHOTS_BUCKET, kvSnapshotSink, VIEW_POSITION_BUCKET, VIEW_POSITION_KEY, type ViewPositionRecord } from './snapshots.ts';

describe.skipIf(!(await infraAvailable('nats')))("inventory's snapshot sink over real NATS", () => {
  const prefix = testSubjectPrefix('invkv');
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectTestNats();
    await ensureStreams(nc, { prefix });
  });
  afterAll(async () => {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) if (name.startsWith(`KV_${prefix}-`)) await jsm.streams.delete(name);
    await nc.close();
  });

  it('keeps hosts only in the host bucket and its position, with the host revision it reaches, in its own bucket', async () => {
    const hosts = await openKv(nc, HOST_SNAPSHOTS_BUCKET, { prefix });
    // What an older inventory left in the host bucket: removed at start.
    await hosts.kv.put('_position', JSON.stringify({ transactionId: '1', position: '1' }));
    const sink = await kvSnapshotSink(nc, prefix);
    expect((await hosts.kv.get('_position'))?.operation).not.toBe('PUT');

    const positions = await openKv(nc, VIEW_POSITION_BUCKET, { prefix });
    await sink.position({ transactionId: '5', position: '50' });
    // Nothing written by this sink yet: the revision is the host bucket's last sequence at start (the purge).
    const first = (await positions.getJson<ViewPositionRecord>(VIEW_POSITION_KEY))!.value!;
    expect(first).toEqual({ transactionId: '5', position: '50', hostsRevision: (await hosts.kv.status()).streamInfo.state.last_seq });

    await sink.hosts([
      { hostId: 'a', snapshot: hostSnapshot({ hostId: 'a', cpus: 4 }, 1), placementsOnly: false },
      { hostId: 'b', snapshot: hostSnapshot({ hostId: 'b', cpus: 4 }, 1), placementsOnly: false },
    ]);
    await sink.position({ transactionId: '6', position: '61' });
    const second = (await positions.getJson<ViewPositionRecord>(VIEW_POSITION_KEY))!.value!;
    const revisions = [(await hosts.kv.get('a'))!.revision, (await hosts.kv.get('b'))!.revision];
    expect(second).toEqual({ transactionId: '6', position: '61', hostsRevision: Math.max(...revisions) });

    const keys: string[] = [];
    for await (const k of await hosts.kv.keys()) keys.push(k);
    expect(keys.sort()).toEqual(['a', 'b']);
  });

  it('resync puts the hosts whose generation the bucket lacks, and none it holds at that generation or later', async () => {
    const hosts = await openKv(nc, HOST_SNAPSHOTS_BUCKET, { prefix });
    const sink = await kvSnapshotSink(nc, prefix);
    for await (const k of await hosts.kv.keys()) await hosts.kv.purge(k);
    // A bucket without hosts (a new install, or one lost): every host goes in.
    const a1 = hostSnapshot({ hostId: 'a', cpus: 4 }, 1);
    const b3 = hostSnapshot({ hostId: 'b', cpus: 4 }, 3);
    expect(await sink.resync([a1, b3])).toBe(2);
    const revisionB = (await hosts.kv.get('b'))!.revision;
    // 'a' moved on in the read model while the bucket kept generation 1 (claims held back when the process
    // stopped); 'b' is ahead in the bucket (a batch whose commit failed: its retry puts it again); 'c' is new.
    const a2 = hostSnapshot({ hostId: 'a', cpus: 4 }, 2);
    const b2 = hostSnapshot({ hostId: 'b', cpus: 4 }, 2);
    const c1 = hostSnapshot({ hostId: 'c', cpus: 8 }, 1);
    expect(await sink.resync([a2, b2, c1])).toBe(2);
    expect((await hosts.getJson<typeof a2>('a'))!.value!.generation).toBe(2);
    expect((await hosts.kv.get('b'))!.revision).toBe(revisionB);
    expect((await hosts.getJson<typeof c1>('c'))!.value!.capacity.hostId).toBe('c');
    // Everything current: nothing put.
    expect(await sink.resync([a2, c1])).toBe(0);
  });
});
