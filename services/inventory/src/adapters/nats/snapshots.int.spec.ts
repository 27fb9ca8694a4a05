import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { hostSnapshot } from '@berth/fit';
import { connectNats, ensureStreams, openKv } from '@berth/messaging';
import { createLogger } from '@berth/observability';
import { connectTestNats, eventually, FaultProxy, infraAvailable, natsUrl, testSubjectPrefix } from '@berth/testing';
import {
  HOST_SNAPSHOTS_BUCKET,
  kvSnapshotSink,
  resyncOnReconnect,
  VIEW_POSITION_BUCKET,
  VIEW_POSITION_KEY,
  type ViewPositionRecord,
} from './snapshots.ts';

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
    expect(await sink.resync(async () => [a1, b3])).toBe(2);
    const revisionB = (await hosts.kv.get('b'))!.revision;
    // 'a' moved on in the read model while the bucket kept generation 1 (claims held back when the process
    // stopped); 'b' is ahead in the bucket (a batch whose commit failed: its retry puts it again); 'c' is new.
    const a2 = hostSnapshot({ hostId: 'a', cpus: 4 }, 2);
    const b2 = hostSnapshot({ hostId: 'b', cpus: 4 }, 2);
    const c1 = hostSnapshot({ hostId: 'c', cpus: 8 }, 1);
    expect(await sink.resync(async () => [a2, b2, c1])).toBe(2);
    expect((await hosts.getJson<typeof a2>('a'))!.value!.generation).toBe(2);
    expect((await hosts.kv.get('b'))!.revision).toBe(revisionB);
    expect((await hosts.getJson<typeof c1>('c'))!.value!.capacity.hostId).toBe('c');
    // Everything current: nothing put.
    expect(await sink.resync(async () => [a2, c1])).toBe(0);
  });

  it('puts again, after a reconnect, what the bucket lost (its puts are not synced to disk one by one)', async () => {
    const u = new URL(natsUrl());
    const proxy = await FaultProxy.start({ host: u.hostname, port: Number(u.port || 4222) });
    const viaProxy = await connectNats({ url: `nats://${proxy.address}`, name: 'inventory-resync-test' });
    try {
      const hosts = await openKv(nc, HOST_SNAPSHOTS_BUCKET, { prefix });
      const positions = await openKv(nc, VIEW_POSITION_BUCKET, { prefix });
      const sink = await kvSnapshotSink(viaProxy, prefix);
      const a2 = hostSnapshot({ hostId: 'a', cpus: 4 }, 2);
      const d1 = hostSnapshot({ hostId: 'd', cpus: 2 }, 1);
      resyncOnReconnect(viaProxy, sink, async () => [a2, d1], createLogger('resync-test'));
      await sink.hosts([
        { hostId: 'a', snapshot: a2, placementsOnly: false },
        { hostId: 'd', snapshot: d1, placementsOnly: false },
      ]);
      await sink.position({ transactionId: '9', position: '90' });
      // What a server that restarted without its last writes holds: 'a' one put behind, 'd' and the position gone.
      await hosts.putJson('a', hostSnapshot({ hostId: 'a', cpus: 4 }, 1));
      await hosts.kv.purge('d');
      await positions.kv.purge(VIEW_POSITION_KEY);

      proxy.reset();
      await eventually(async () => (await hosts.getJson<typeof a2>('a'))?.value?.generation === 2, 'a back at generation 2', 15_000);
      await eventually(async () => (await hosts.getJson<typeof d1>('d'))?.value?.generation === 1, 'd back', 15_000);
      await eventually(
        async () => (await positions.getJson<ViewPositionRecord>(VIEW_POSITION_KEY))?.value?.position === '90',
        'the position back',
        15_000,
      );
      const record = (await positions.getJson<ViewPositionRecord>(VIEW_POSITION_KEY))!.value!;
      expect(record.hostsRevision).toBe((await hosts.kv.status()).streamInfo.state.last_seq);
    } finally {
      await viaProxy.close();
      await proxy.close();
    }
  });
});
