import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import {
  deletePrefixedStreams,
  eventually,
  infraAvailable,
  infraRequired,
  isProductionLine,
  NATS_SERVER_BIN,
  natsUrl,
  PrivateNatsServer,
  testSubjectPrefix,
} from '@berth/testing';
import { connectNats } from './connect.ts';
import { startConsumer, supportsFilterSubjects } from './consumer.ts';
import { ensureDurable } from './durable.ts';
import { streamName, subjectName } from './names.ts';
import { createEventPublisher } from './publisher.ts';
import { ack } from './results.ts';
import { ensureStreams } from './streams.ts';
import { makeEvent } from './testing/jetstream.ts';

/** The production-line server (>= 2.12.3) is fetched by scripts/fetch-nats-server.sh; npm test and CI have it. */
function haveProductionLine(): boolean {
  if (existsSync(NATS_SERVER_BIN) && isProductionLine(NATS_SERVER_BIN)) return true;
  if (infraRequired())
    throw new Error(`REQUIRE_INFRA=1 but ${NATS_SERVER_BIN} is not a nats-server >= 2.12.3 (run scripts/fetch-nats-server.sh)`);
  console.warn(`skipping the filter_subjects tests: ${NATS_SERVER_BIN} is not a nats-server >= 2.12.3`);
  return false;
}

/**
 * A consumer with `types` under a wildcard filter: publishes three VM events of which it wants one,
 * and answers what the durable is configured with and how many messages the server delivered to it.
 */
async function deliveredOf(nc: NatsConnection, prefix: string, durable: string) {
  await ensureStreams(nc, { prefix });
  const publish = createEventPublisher(nc, { service: 'inventory', prefix });
  const handled: string[] = [];
  const consumer = await startConsumer({
    events: false, // made-up event types: the envelope is checked, not the catalog
    nc,
    prefix,
    stream: 'BERTH_INVENTORY',
    durable,
    filterSubject: 'berth.inventory.vm.>',
    types: ['VmPlaced'],
    handle: async (env) => (handled.push(env.type), ack()),
  });
  try {
    for (const type of ['VmRequested', 'VmPlaced', 'VmBecameRunning']) await publish(makeEvent({ type, streamId: 'vm-f1' }));
    await eventually(() => handled.length === 1, 'VmPlaced handled', 20_000);
    const jsm = await jetstreamManager(nc);
    const info = await eventually(
      async () => {
        const i = await jsm.consumers.info(streamName('BERTH_INVENTORY', prefix), durable);
        return i.num_ack_pending === 0 && i.num_pending === 0 ? i : undefined;
      },
      'everything acknowledged',
      20_000,
    );
    return { handled, config: info.config, delivered: info.delivered.consumer_seq };
  } finally {
    await consumer.stop();
    publish.close();
  }
}

describe.skipIf(!(await infraAvailable('nats')))('durables with event types', () => {
  it('on the shared server: the filter it has, the unwanted types acknowledged unread if it is 2.9', async () => {
    const prefix = testSubjectPrefix('fs');
    const nc = await connectNats({ url: natsUrl(), name: 'messaging-filter-test' });
    try {
      const r = await deliveredOf(nc, prefix, 'types-shared');
      expect(r.handled).toEqual(['VmPlaced']);
      if (supportsFilterSubjects(nc)) {
        expect(r.config.filter_subjects).toEqual([subjectName('berth.inventory.vm.*.VmPlaced', prefix)]);
        expect(r.delivered).toBe(1);
      } else {
        expect(r.config.filter_subject).toBe(subjectName('berth.inventory.vm.>', prefix));
        expect(r.delivered).toBe(3);
      }
    } finally {
      await deletePrefixedStreams(prefix, nc);
      await nc.close();
    }
  });

  describe.skipIf(!haveProductionLine())('on the production line (nats-server >= 2.12.3)', () => {
    let server: PrivateNatsServer;
    let nc: NatsConnection;
    beforeAll(async () => {
      server = await PrivateNatsServer.start(NATS_SERVER_BIN);
      nc = await connectNats({ url: server.url, name: 'messaging-filter-test-210' });
    });
    afterAll(async () => {
      await nc?.close();
      await server?.destroy();
    });

    it('names exactly the wanted subjects (filter_subjects): the server delivers nothing else', async () => {
      expect(supportsFilterSubjects(nc)).toBe(true);
      const prefix = testSubjectPrefix('fs');
      const r = await deliveredOf(nc, prefix, 'types-210');
      expect(r.handled).toEqual(['VmPlaced']);
      expect(r.config.filter_subjects).toEqual([subjectName('berth.inventory.vm.*.VmPlaced', prefix)]);
      expect(r.config.filter_subject ?? '').toBe('');
      expect(r.delivered).toBe(1);
    });

    it('moves a durable made with the wildcard (a 2.9 deployment) to the subjects of its types', async () => {
      const prefix = testSubjectPrefix('fs');
      await ensureStreams(nc, { prefix });
      const jsm = await jetstreamManager(nc);
      const spec = {
        stream: streamName('BERTH_INVENTORY', prefix),
        durable: 'types-upgraded',
        filterSubject: subjectName('berth.inventory.vm.>', prefix),
        serverMaxDeliver: 6,
        ackWaitMillis: 30_000,
        maxAckPending: 128,
      };
      expect(await ensureDurable(jsm, spec)).toBe('created');
      const r = await deliveredOf(nc, prefix, 'types-upgraded');
      expect(r.config.filter_subjects).toEqual([subjectName('berth.inventory.vm.*.VmPlaced', prefix)]);
      expect(r.delivered).toBe(1);
      // And it stays as it is on the next start.
      expect(await ensureDurable(jsm, { ...spec, filterSubjects: r.config.filter_subjects! })).toBe('unchanged');
    });
  });
});
