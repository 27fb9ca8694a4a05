/**
 * Publisher throughput against the NATS at NATS_URL: batches of events published concurrently (as the
 * relay does) and acknowledged by the stream. Prints figures; the last line is one JSON object.
 */
import { randomUUID } from 'node:crypto';
import { deletePrefixedStreams, natsUrl, testSubjectPrefix } from '@berth/testing';
import { connectNats, createEventPublisher, ensureStreams, type PublishableEvent } from '../src/index.ts';

const total = Number(process.env['BENCH_EVENTS'] ?? 20_000);
const batch = Number(process.env['BENCH_BATCH'] ?? 1000);
const prefix = testSubjectPrefix('bench');
const nc = await connectNats({ url: natsUrl(), name: 'messaging-bench' });
try {
  await ensureStreams(nc, { prefix });
  const publish = createEventPublisher(nc, { service: 'inventory', prefix });
  const events: PublishableEvent[] = Array.from({ length: total }, (_, i) => ({
    id: randomUUID(),
    type: 'VmRequested',
    schemaVersion: 1,
    streamId: `vm-${i % 500}`,
    streamPosition: Math.floor(i / 500) + 1,
    globalPosition: String(i + 1),
    occurredAt: new Date().toISOString(),
    data: { vmId: String(i), spec: { vcpus: 2, memoryBytes: 4 * 2 ** 30 } },
    metadata: { traceparent: '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01' },
  }));
  const started = performance.now();
  for (let i = 0; i < total; i += batch) await Promise.all(events.slice(i, i + batch).map((e) => publish(e)));
  const seconds = (performance.now() - started) / 1000;
  const publishedPerSecond = Math.round(total / seconds);
  console.log(`published ${total} events in batches of ${batch}: ${seconds.toFixed(2)} s`);
  console.log(JSON.stringify({ events: total, batch, publishedPerSecond }));
} finally {
  await deletePrefixedStreams(prefix, nc);
  await nc.close();
}
