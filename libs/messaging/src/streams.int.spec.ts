import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, StorageType } from '@nats-io/jetstream';
import { Kvm } from '@nats-io/kv';
import { deletePrefixedStreams, infraAvailable, natsUrl, testSubjectPrefix } from '@berth/testing';
import { connectNats } from './connect.ts';
import { loadNatsDefinitions, type NatsDefinitions } from './definitions.ts';
import { openKv } from './kv.ts';
import { ensureStreams, supportsPersistMode } from './streams.ts';

describe.skipIf(!(await infraAvailable('nats')))('ensureStreams', () => {
  const prefix = testSubjectPrefix('ts');
  let nc: NatsConnection;

  beforeAll(async () => {
    nc = await connectNats({ url: natsUrl(), name: 'messaging-streams-test' });
  });
  afterAll(async () => {
    await deletePrefixedStreams(prefix, nc);
    await nc.close();
  });

  it('creates every stream and bucket of infra/nats/streams.json with prefixed names and subjects', async () => {
    const first = await ensureStreams(nc, { prefix });
    const P = prefix.toUpperCase();
    // Every stream of the definitions file (each service adds its own), the core ones among them.
    expect(first.streams).toEqual(Object.fromEntries(loadNatsDefinitions().streams.map((s) => [`${P}_${s.name}`, 'created'])));
    expect(Object.keys(first.streams)).toEqual(
      expect.arrayContaining([`${P}_BERTH_INVENTORY`, `${P}_BERTH_SCHEDULER`, `${P}_BERTH_EXECUTOR`, `${P}_BERTH_DLQ`]),
    );
    const buckets = loadNatsDefinitions().kv.map((b) => `${prefix}-${b.bucket}`);
    expect(buckets).toContain(`${prefix}-berth-host-snapshots`);
    expect(first.buckets).toEqual(Object.fromEntries(buckets.map((b) => [b, 'created'])));
    const info = await (await jetstreamManager(nc)).streams.info(`${P}_BERTH_INVENTORY`);
    expect(info.config.subjects).toEqual([`${prefix}.berth.inventory.>`]);
    expect(info.config.storage).toBe('file');
    expect(info.config.duplicate_window).toBe(120_000 * 1_000_000);
  });

  it('makes a bucket with persistMode async as nats.js makes a bucket, acknowledging puts before they are synced', async () => {
    const jsm = await jetstreamManager(nc);
    const ours = (await jsm.streams.info(`KV_${prefix}-berth-host-snapshots`)).config;
    await new Kvm(nc).create(`${prefix}-kvm-made`, { history: 1, storage: StorageType.File, description: ours.description });
    const theirs = (await jsm.streams.info(`KV_${prefix}-kvm-made`)).config;
    // The same stream but for its name, subjects and persistence (and what the server records of the request).
    const rest = ({ name: _n, subjects: _s, persist_mode: _p, metadata: _m, ...c }: typeof ours) => c;
    expect(rest(ours)).toEqual(rest(theirs));
    expect(ours.subjects).toEqual([`$KV.${prefix}-berth-host-snapshots.>`]);
    // nats-server >= 2.12 knows persist_mode (the production line; an older server syncs as it is set).
    if (supportsPersistMode(nc)) expect(ours.persist_mode).toBe('async');
    else expect(ours.persist_mode).toBeUndefined();
    expect(theirs.persist_mode ?? 'default').toBe('default');
    const events = (await jsm.streams.info(`${prefix.toUpperCase()}_BERTH_INVENTORY`)).config;
    expect(events.persist_mode ?? 'default').toBe('default');
  });

  it('is idempotent: a second run changes nothing and leaves the same config', async () => {
    const jsm = await jetstreamManager(nc);
    const before = (await jsm.streams.info(`${prefix.toUpperCase()}_BERTH_EXECUTOR`)).config;
    const again = await ensureStreams(nc, { prefix });
    expect(new Set(Object.values(again.streams))).toEqual(new Set(['unchanged']));
    expect(new Set(Object.values(again.buckets))).toEqual(new Set(['unchanged']));
    const after = (await jsm.streams.info(`${prefix.toUpperCase()}_BERTH_EXECUTOR`)).config;
    expect(after).toEqual(before);
  });

  it('updates a stream and a bucket whose definition changed', async () => {
    const defs = loadNatsDefinitions();
    const changed: NatsDefinitions = {
      streams: defs.streams.map((s) =>
        s.name === 'BERTH_SCHEDULER' ? { ...s, duplicateWindowMillis: 60_000, description: 'changed' } : s,
      ),
      kv: defs.kv.map((b) => ({ ...b, history: 3 })),
    };
    const result = await ensureStreams(nc, { prefix, definitions: changed });
    const P = prefix.toUpperCase();
    expect(result.streams[`${P}_BERTH_SCHEDULER`]).toBe('updated');
    expect(result.streams[`${P}_BERTH_INVENTORY`]).toBe('unchanged');
    expect(result.buckets[`${prefix}-berth-host-snapshots`]).toBe('updated');
    const jsm = await jetstreamManager(nc);
    const cfg = (await jsm.streams.info(`${P}_BERTH_SCHEDULER`)).config;
    expect(cfg.duplicate_window).toBe(60_000 * 1_000_000);
    expect(cfg.description).toBe('changed');
    expect((await jsm.streams.info(`KV_${prefix}-berth-host-snapshots`)).config.max_msgs_per_subject).toBe(3);
  });

  it('opens the snapshot bucket with JSON helpers and watches changes', async () => {
    const kv = await openKv(nc, 'berth-host-snapshots', { prefix });
    const seen: { key: string; value: unknown }[] = [];
    const watcher = await kv.watchJson<{ generation: number }>((e) => void seen.push({ key: e.key, value: e.value }));
    const r1 = await kv.putJson('h1', { generation: 1 });
    const r2 = await kv.putJson('h1', { generation: 2 });
    expect(r2).toBeGreaterThan(r1);
    expect(await kv.getJson<{ generation: number }>('h1')).toEqual({ key: 'h1', value: { generation: 2 }, revision: r2 });
    // A key the bucket cannot hold is refused by nats.js's own check, naming it.
    await expect(kv.putJson('bad key', {})).rejects.toThrow(/key/);
    expect(await kv.getJson('missing')).toBeUndefined();
    await kv.kv.delete('h1');
    const deadline = Date.now() + 10_000;
    while (seen.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    await watcher.stop();
    expect(seen).toEqual([
      { key: 'h1', value: { generation: 1 } },
      { key: 'h1', value: { generation: 2 } },
      { key: 'h1', value: undefined },
    ]);
  });
});
