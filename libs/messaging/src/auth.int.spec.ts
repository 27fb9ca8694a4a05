/**
 * NATS least privilege against a real nats-server in `strict` mode (the permissions npm start and docker
 * compose run): every service signs in with its own nkey; publishing on another service's subject,
 * subscribing where it may not, a forged executor report and the read-only subscriber's attempts to
 * write are refused by the server — and what was refused changes nothing (streams and durables checked
 * through the admin user afterwards).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errors, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { EventEnvelope } from '@berth/contracts';
import { eventually, infraAvailable, isProductionLine, NATS_SERVER_BIN, PrivateNatsServer } from '@berth/testing';
import { ADMIN_USER, writeNatsCredentials, type NatsCredentials } from './auth-files.ts';
import { connectNats } from './connect.ts';
import { startConsumer, type RunningConsumer } from './consumer.ts';
import { loadPermissionTable } from './auth.ts';
import { consumerDefinition, loadNatsDefinitions } from './definitions.ts';
import { createEventPublisher } from './publisher.ts';
import { ack } from './results.ts';
import { provisionNats } from './provision.ts';
import { ensureStreams } from './streams.ts';
import { openKv } from './kv.ts';
import { makeEvent } from './testing/jetstream.ts';

const PRIVATE_CONF = new URL('../../../infra/nats/private.conf', import.meta.url).pathname;

/** Every permission violation the server reports to this connection. */
function violations(nc: NatsConnection): { operation: string; subject: string }[] {
  const seen: { operation: string; subject: string }[] = [];
  void (async () => {
    for await (const s of nc.status()) {
      if (s.type === 'error' && s.error instanceof errors.PermissionViolationError)
        seen.push({ operation: s.error.operation, subject: s.error.subject });
    }
  })();
  return seen;
}

describe.skipIf(!(await infraAvailable()) || !isProductionLine())('NATS users and subject permissions (strict)', () => {
  let dir: string;
  let creds: NatsCredentials;
  let server: PrivateNatsServer;
  const conns = new Map<string, NatsConnection>();
  const seen = new Map<string, { operation: string; subject: string }[]>();
  const consumers: RunningConsumer[] = [];
  const as = (user: string): NatsConnection => conns.get(user)!;
  const streamMessages = async (stream: string): Promise<number> =>
    (await (await jetstreamManager(as(ADMIN_USER))).streams.info(stream)).state.messages;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'berth-nats-auth-'));
    creds = writeNatsCredentials(join(dir, 'credentials'), { mode: 'strict', baseConf: PRIVATE_CONF, projectReaders: ['acme', 'globex'] });
    server = await PrivateNatsServer.start(NATS_SERVER_BIN, { config: creds.serverConf });
    for (const user of creds.users) {
      const nc = await connectNats({
        url: server.url,
        name: `auth-test-${user}`,
        credsFile: creds.credsFile(user),
        maxReconnectAttempts: 0,
      });
      conns.set(user, nc);
      seen.set(user, violations(nc));
    }
    // The administrator's step (npm start does it), then each service's start-up lookup.
    await provisionNats({ url: server.url, credsFile: creds.credsFile(ADMIN_USER) });
    await ensureStreams(as('inventory'));
    await ensureStreams(as('scheduler'));
  });
  afterAll(async () => {
    await Promise.all(consumers.map((c) => c.stop()));
    await Promise.all([...conns.values()].map((nc) => nc.close()));
    await server?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses a client without credentials', async () => {
    await expect(connectNats({ url: server.url, name: 'anonymous', maxReconnectAttempts: 0 })).rejects.toThrow(/authorization/i);
  });

  it("lets a service publish its own events, and refuses another service's subject", async () => {
    const before = await streamMessages('BERTH_INVENTORY');
    const ownEvent = makeEvent({ type: 'VmRequested' });
    const own = await createEventPublisher(as('inventory'), { service: 'inventory' })(ownEvent);
    expect(own.stream).toBe('BERTH_INVENTORY');
    // Its relay reads back the newest ids of its own stream (resuming from a checkpoint), never another's.
    const ownPublisher = createEventPublisher(as('inventory'), { service: 'inventory' });
    expect(await ownPublisher.newestIds(3)).toContain(ownEvent.id);
    ownPublisher.close();
    const otherStream = (await jetstreamManager(as('inventory'), { timeout: 2000 })).streams;
    await expect(otherStream.getMessage('BERTH_EXECUTOR', { seq: 1 })).rejects.toThrow();

    as('scheduler').publish('berth.inventory.vm.default.VmRequested', JSON.stringify({ forged: true }));
    await as('scheduler').flush();
    await eventually(
      () => seen.get('scheduler')!.some((v) => v.subject === 'berth.inventory.vm.default.VmRequested'),
      'the violation',
      5000,
    );
    expect(seen.get('scheduler')).toContainEqual({ operation: 'publish', subject: 'berth.inventory.vm.default.VmRequested' });
    const forged = createEventPublisher(as('telemetry'), { service: 'inventory' });
    await expect(forged(makeEvent({ type: 'VmRequested' }))).rejects.toThrow();
    forged.close();
    expect(await streamMessages('BERTH_INVENTORY')).toBe(before + 1);
  });

  it('refuses subscriptions a service may not make', async () => {
    const cases: [string, string][] = [
      ['placement-executor', 'berth.samples.*'], // telemetry's intake
      ['migration', 'berth.controls.*'], // the executor's
      ['scheduler', 'berth.>'], // the bus as a whole
      ['telemetry', '_INBOX.>'], // other clients' replies
    ];
    for (const [user, subject] of cases) {
      const sub = as(user).subscribe(subject);
      await expect(
        (async () => {
          for await (const _m of sub) return 'delivered';
          return 'closed';
        })(),
      ).rejects.toBeInstanceOf(errors.PermissionViolationError);
      expect(seen.get(user)).toContainEqual({ operation: 'subscription', subject });
    }
  });

  it('a forged executor report sent with another identity never reaches inventory; the real one does', async () => {
    const got: EventEnvelope[] = [];
    const c = await startConsumer({
      nc: as('inventory'),
      ...consumerDefinition('inventory-executor-events'),
      events: false,
      handle: async (env) => (got.push(env), ack()),
    });
    consumers.push(c);
    const forgedEvent = makeEvent({ type: 'VmStarted', streamId: 'vm-forged' });
    for (const user of ['scheduler', 'migration', 'telemetry', 'reader']) {
      const p = createEventPublisher(as(user), { service: 'executor' });
      await expect(p(forgedEvent)).rejects.toThrow();
      p.close();
      expect(seen.get(user)!.some((v) => v.operation === 'publish' && v.subject.startsWith('berth.executor.'))).toBe(true);
    }
    const genuine = makeEvent({ type: 'VmStarted', streamId: 'vm-genuine' });
    await createEventPublisher(as('placement-executor'), { service: 'executor' })(genuine);
    await eventually(() => got.length >= 1, 'the genuine report', 20_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(got.map((e) => e.streamId)).toEqual(['vm-genuine']);
    expect(await streamMessages('BERTH_EXECUTOR')).toBe(1);
  });

  it('no service may create, update, delete or purge a stream or bucket; on a provisioned server its start-up lookup writes nothing', async () => {
    const defs = loadNatsDefinitions();
    const services = Object.keys(loadPermissionTable().services);
    const inventoryConfig = (await (await jetstreamManager(as(ADMIN_USER))).streams.info('BERTH_INVENTORY')).config;
    for (const user of services) {
      // what every service runs on start: everything found as provisioned, nothing written
      const r = await ensureStreams(as(user));
      expect(Object.values(r.streams).every((o) => o === 'unchanged') && Object.values(r.buckets).every((o) => o === 'unchanged')).toBe(
        true,
      );
      const tries: [string, unknown][] = [
        ['$JS.API.STREAM.CREATE.ROGUE', { name: 'ROGUE', subjects: ['rogue.>'] }],
        ['$JS.API.STREAM.CREATE.KV_rogue', { name: 'KV_rogue', subjects: ['$KV.rogue.>'] }],
        ['$JS.API.STREAM.UPDATE.BERTH_INVENTORY', { ...inventoryConfig, subjects: ['berth.>'] }],
        ['$JS.API.STREAM.DELETE.BERTH_INVENTORY', {}],
        ['$JS.API.STREAM.PURGE.BERTH_EXECUTOR', {}],
        ['$JS.API.STREAM.DELETE.KV_berth-host-snapshots', {}],
      ];
      for (const [subject, body] of tries)
        await expect(as(user).request(subject, JSON.stringify(body), { timeout: 2000 }), `${user} ${subject}`).rejects.toThrow();
      await eventually(
        () => tries.every(([subject]) => seen.get(user)!.some((v) => v.operation === 'publish' && v.subject === subject)),
        `${user}'s violations`,
        5000,
      );
    }
    // Nothing changed: no rogue stream, the streams and buckets as provisioned.
    const admin = await jetstreamManager(as(ADMIN_USER));
    const names: string[] = [];
    for await (const n of admin.streams.names()) names.push(n);
    expect(names.sort()).toEqual([...defs.streams.map((d) => d.name), ...defs.kv.map((k) => `KV_${k.bucket}`)].sort());
    expect((await admin.streams.info('BERTH_INVENTORY')).config.subjects).toEqual(['berth.inventory.>']);
    // A service finding a stream missing says that provisioning is missing (it cannot create it).
    await admin.streams.delete('BERTH_TELEMETRY');
    await expect(ensureStreams(as('telemetry'))).rejects.toThrow(
      /stream BERTH_TELEMETRY is missing and could not be created .*provisioned by an administrator/,
    );
    await expect(admin.streams.info('BERTH_TELEMETRY')).rejects.toThrow(/stream not found/);
    expect((await provisionNats({ url: server.url, credsFile: creds.credsFile(ADMIN_USER) })).streams['BERTH_TELEMETRY']).toBe('created');
  });

  it("a service cannot take another service's durable messages or acks", async () => {
    const jsm = await jetstreamManager(as('scheduler'));
    await expect(jsm.consumers.info('BERTH_EXECUTOR', 'inventory-executor-events')).rejects.toThrow();
    expect(seen.get('scheduler')).toContainEqual({
      operation: 'publish',
      subject: '$JS.API.CONSUMER.INFO.BERTH_EXECUTOR.inventory-executor-events',
    });
  });

  it('the reader sees berth.> events, but cannot publish, create a durable, delete or pull from one', async () => {
    const reader = as('reader');
    const live = reader.subscribe('berth.>');
    const first = (async () => {
      for await (const m of live) return m.subject;
      return undefined;
    })();
    await reader.flush();
    await createEventPublisher(as('migration'), { service: 'migration' })(
      makeEvent({ type: 'MigrationRequested', streamId: 'migration-1' }),
    );
    expect(await first).toBe('berth.migration.migration.MigrationRequested');

    reader.publish('berth.inventory.vm.default.VmRequested', '{}');
    const durableName = 'reader-durable';
    const tries = [
      // a durable of its own
      [
        `$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.${durableName}`,
        { stream_name: 'BERTH_INVENTORY', config: { durable_name: durableName, ack_policy: 'explicit' } },
      ],
      [
        `$JS.API.CONSUMER.DURABLE.CREATE.BERTH_INVENTORY.${durableName}`,
        { stream_name: 'BERTH_INVENTORY', config: { durable_name: durableName, ack_policy: 'explicit' } },
      ],
      // someone else's durable: delete it, or pull its messages
      ['$JS.API.CONSUMER.DELETE.BERTH_EXECUTOR.inventory-executor-events', {}],
      ['$JS.API.CONSUMER.MSG.NEXT.BERTH_EXECUTOR.inventory-executor-events', { batch: 1 }],
      ['$JS.API.STREAM.DELETE.BERTH_INVENTORY', {}],
      ['$JS.API.STREAM.PURGE.BERTH_INVENTORY', {}],
    ] as const;
    for (const [subject, body] of tries) {
      await expect(reader.request(subject, JSON.stringify(body), { timeout: 2000 })).rejects.toThrow();
    }
    await reader.flush();
    await eventually(() => seen.get('reader')!.length >= tries.length + 1, 'the violations', 5000);
    for (const subject of ['berth.inventory.vm.default.VmRequested', ...tries.map(([s]) => s)]) {
      expect(seen.get('reader')).toContainEqual({ operation: 'publish', subject });
    }
    // Nothing changed: no durable of the reader, the executor's durable and the streams intact.
    const admin = await jetstreamManager(as(ADMIN_USER));
    await expect(admin.consumers.info('BERTH_INVENTORY', durableName)).rejects.toThrow(/consumer not found/);
    expect((await admin.consumers.info('BERTH_EXECUTOR', 'inventory-executor-events')).name).toBe('inventory-executor-events');
    expect(await streamMessages('BERTH_INVENTORY')).toBeGreaterThan(0);
  });

  it("the reader follows telemetry's measured-usage puts (the console's heat map) and may not put one", async () => {
    const reader = as('reader');
    const puts = reader.subscribe('$KV.berth-host-usage.>');
    const first = (async () => {
      for await (const m of puts) return { subject: m.subject, value: m.json<{ memoryUsedRatio: number }>() };
      return undefined;
    })();
    await reader.flush();
    const before = seen.get('reader')!.length;
    await (await openKv(as('telemetry'), 'berth-host-usage')).putJson('h1', { memoryUsedRatio: 0.42 });
    expect(await first).toEqual({ subject: '$KV.berth-host-usage.h1', value: { memoryUsedRatio: 0.42 } });
    // Its own put is refused by the server and the bucket keeps telemetry's value.
    reader.publish('$KV.berth-host-usage.h1', JSON.stringify({ memoryUsedRatio: 0.99 }));
    await reader.flush();
    await eventually(() => seen.get('reader')!.length > before, 'the violation', 5000);
    expect(seen.get('reader')).toContainEqual({ operation: 'publish', subject: '$KV.berth-host-usage.h1' });
    expect((await (await openKv(as(ADMIN_USER), 'berth-host-usage')).getJson('h1'))?.value).toEqual({ memoryUsedRatio: 0.42 });
  });

  it("inventory's view position: inventory writes it, the scheduler reads it, nobody else may (the reader neither)", async () => {
    await (
      await openKv(as('inventory'), 'berth-view-position')
    ).putJson('inventory', { transactionId: '1', position: '2', hostsRevision: 3 });
    expect((await (await openKv(as('scheduler'), 'berth-view-position')).getJson('inventory'))?.value).toEqual({
      transactionId: '1',
      position: '2',
      hostsRevision: 3,
    });
    // The scheduler may not write it (only inventory's projection knows the position).
    const before = seen.get('scheduler')!.length;
    as('scheduler').publish('$KV.berth-view-position.inventory', JSON.stringify({ transactionId: '9', position: '9', hostsRevision: 9 }));
    await as('scheduler').flush();
    await eventually(() => seen.get('scheduler')!.length > before, "the scheduler's violation", 5000);
    expect(seen.get('scheduler')).toContainEqual({ operation: 'publish', subject: '$KV.berth-view-position.inventory' });
    // Internal coordination between inventory and the scheduler: not for the reader, nor the other services.
    for (const user of ['reader', 'telemetry', 'migration']) {
      const sub = as(user).subscribe('$KV.berth-view-position.>');
      await expect(
        (async () => {
          for await (const _m of sub) return 'delivered';
          return 'closed';
        })(),
        user,
      ).rejects.toBeInstanceOf(errors.PermissionViolationError);
    }
    expect((await (await openKv(as(ADMIN_USER), 'berth-view-position')).getJson('inventory'))?.value).toMatchObject({ position: '2' });
  });

  it('the reader may read history through an ephemeral consumer (the server refuses a durable name there)', async () => {
    const reader = as('reader');
    const ephemeral = await reader.request(
      '$JS.API.CONSUMER.CREATE.BERTH_INVENTORY',
      JSON.stringify({
        stream_name: 'BERTH_INVENTORY',
        config: {
          ack_policy: 'none',
          deliver_subject: `${(reader as unknown as { options: { inboxPrefix: string } }).options.inboxPrefix}.history`,
          deliver_policy: 'all',
        },
      }),
      { timeout: 5000 },
    );
    expect(ephemeral.json<{ error?: unknown; config?: { durable_name?: string } }>().error).toBeUndefined();
    const named = await reader.request(
      '$JS.API.CONSUMER.CREATE.BERTH_INVENTORY',
      JSON.stringify({ stream_name: 'BERTH_INVENTORY', config: { durable_name: 'sneaky', ack_policy: 'explicit' } }),
      { timeout: 5000 },
    );
    expect(named.json<{ error?: { description?: string } }>().error).toBeDefined();
    const admin = await jetstreamManager(as(ADMIN_USER));
    await expect(admin.consumers.info('BERTH_INVENTORY', 'sneaky')).rejects.toThrow(/consumer not found/);
  });

  it("a project's reader gets that project's VM lifecycle events, live and from history, and nothing of another project", async () => {
    expect(creds.users).toEqual(expect.arrayContaining(['reader-acme', 'reader-globex']));
    const acme = as('reader-acme');
    const inbox = (acme as unknown as { options: { inboxPrefix: string } }).options.inboxPrefix;
    const live: string[] = [];
    for (const subject of ['berth.inventory.vm.acme.*', 'berth.inventory.project.acme.*'])
      acme.subscribe(subject, { callback: (_e, m) => void live.push(m.subject) });
    await acme.flush();

    // What inventory's relay publishes: VM and project events with their project, a host event without.
    const inventory = createEventPublisher(as('inventory'), { service: 'inventory' });
    const lifecycle = ['VmRequested', 'VmPlaced', 'VmBecameRunning', 'VmDeleteRequested', 'VmDeleted'];
    for (const [project, vm] of [
      ['acme', 'vm-a1'],
      ['globex', 'vm-g1'],
    ] as const) {
      for (const type of lifecycle) await inventory(makeEvent({ type, streamId: vm, project }));
      await inventory(makeEvent({ type: 'ProjectVmAdmitted', streamId: `project-${project}`, project }));
    }
    await inventory(makeEvent({ type: 'HostRegistered', streamId: 'host-h9' }));
    inventory.close();
    const acmeSubjects = [...lifecycle.map((t) => `berth.inventory.vm.acme.${t}`), 'berth.inventory.project.acme.ProjectVmAdmitted'];
    await eventually(() => live.length >= acmeSubjects.length, "acme's live events", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(live).toEqual(acmeSubjects);

    // History: a push consumer (no acks) whose filter is acme's, named in the API subject.
    const history: string[] = [];
    acme.subscribe(`${inbox}.history`, { callback: (_e, m) => void history.push(m.subject) });
    const create = (subjectFilter: string, config: Record<string, unknown>) =>
      acme.request(
        `$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.h${history.length}x${Math.random().toString(36).slice(2, 8)}.${subjectFilter}`,
        JSON.stringify({ stream_name: 'BERTH_INVENTORY', config: { ack_policy: 'none', deliver_policy: 'all', ...config } }),
        { timeout: 2000 },
      );
    const made = await create('berth.inventory.vm.acme.>', {
      filter_subject: 'berth.inventory.vm.acme.>',
      deliver_subject: `${inbox}.history`,
      inactive_threshold: 5_000_000_000,
    });
    expect(made.json<{ error?: unknown }>().error).toBeUndefined();
    await eventually(() => history.length >= lifecycle.length, "acme's history", 10_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(history).toEqual(lifecycle.map((t) => `berth.inventory.vm.acme.${t}`));

    // A filter on another project, or a body whose filter differs from the subject's: refused.
    const mismatched = await create('berth.inventory.vm.acme.>', {
      filter_subject: 'berth.inventory.vm.globex.>',
      deliver_subject: `${inbox}.x`,
    });
    // 10131: "Consumer create request did not match filtered subject from create subject"
    expect(mismatched.json<{ error?: { err_code?: number } }>().error?.err_code).toBe(10131);
    const widened = await create('berth.inventory.vm.acme.>', {
      filter_subjects: ['berth.inventory.vm.acme.>', 'berth.inventory.vm.globex.>'],
      deliver_subject: `${inbox}.x`,
    });
    // 10137: "consumer with multiple subject filters cannot use subject based API"
    expect(widened.json<{ error?: { err_code?: number } }>().error?.err_code).toBe(10137);
    const before = seen.get('reader-acme')!.length;
    const refused = [
      `$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.peek.berth.inventory.vm.globex.>`,
      `$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.peek.berth.inventory.vm.*.>`,
      `$JS.API.CONSUMER.CREATE.BERTH_INVENTORY.peek.berth.inventory.>`,
      '$JS.API.CONSUMER.CREATE.BERTH_INVENTORY', // an ephemeral with any filter
      '$JS.API.STREAM.INFO.BERTH_INVENTORY', // subjects of every project
      '$JS.API.STREAM.MSG.GET.BERTH_INVENTORY', // any message by sequence
      '$JS.API.DIRECT.GET.BERTH_INVENTORY',
      '$JS.API.CONSUMER.MSG.NEXT.BERTH_INVENTORY.executor-vm-commands', // someone's durable
    ];
    for (const subject of refused)
      await expect(acme.request(subject, JSON.stringify({ stream_name: 'BERTH_INVENTORY', seq: 1 }), { timeout: 2000 })).rejects.toThrow();
    for (const subject of ['berth.inventory.vm.globex.*', 'berth.inventory.vm.*.*', 'berth.inventory.host.*', 'berth.>', '_INBOX.>']) {
      const sub = acme.subscribe(subject);
      await expect(
        (async () => {
          for await (const _m of sub) return 'delivered';
          return 'closed';
        })(),
      ).rejects.toBeInstanceOf(errors.PermissionViolationError);
    }
    await eventually(() => seen.get('reader-acme')!.length >= before + refused.length + 5, 'the violations', 5000);
    for (const subject of refused) expect(seen.get('reader-acme')).toContainEqual({ operation: 'publish', subject });
    // The other project's reader, the same way, sees only its own.
    const globex: string[] = [];
    as('reader-globex').subscribe('berth.inventory.vm.globex.*', { callback: (_e, m) => void globex.push(m.subject) });
    await as('reader-globex').flush();
    await createEventPublisher(as('inventory'), { service: 'inventory' })(
      makeEvent({ type: 'VmStopped', streamId: 'vm-g1', project: 'globex' }),
    );
    await eventually(() => globex.length === 1, "globex's event", 10_000);
    expect(globex).toEqual(['berth.inventory.vm.globex.VmStopped']);
    expect(live).toEqual(acmeSubjects);
  });
});
