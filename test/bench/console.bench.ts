/**
 * The console in headless Chromium (Debian's chromium, playwright-core) against the real stack on the
 * simulator: inventory and the scheduler as processes, the executor in this process, the console as
 * its own process.
 *
 *   npm run bench:console -- [--hosts 5000] [--rate 500] [--seconds 10]
 *
 * - fleetRenderMillis: the fleet page with `--hosts` hosts (registered through gRPC: two NUMA nodes,
 *   hugepages on half, ten pools), from ListHosts' answer arriving in the browser (resource timing) to
 *   the table drawn and painted. fleetLoadMillis is the same page from navigation start (time to
 *   interactive: the table is drawn and answers input). searchMillis: a search typed into that full
 *   fleet, until the one matching row is painted.
 * - eventToScreenMillis: events published on JetStream at `--rate` per second for `--seconds` (a
 *   `berth.inventory.bench.ConsoleBenchTick` envelope per event, on the inventory stream the console
 *   follows), each counted when the page's activity counter first includes it (MutationObserver, wall
 *   clock on this machine); p50/p99/max, with the fleet page of `--hosts` hosts open (every batch marks
 *   its ListHosts stale, so the refetches are part of the measurement). The baseline, in the same run
 *   and page: eventToStreamMillis, the same events counted as they arrive on a second, bare
 *   EventSource on /api/events (NATS, the console's 100 ms batching and the network, no rendering);
 *   screenOverStream is the ratio of the two.
 * - firstLoadKiB: JavaScript bytes as Chromium received them on a cold first load (Brotli, which the
 *   console serves) and the same files gzip-compressed (firstLoadGzipKiB).
 * The last line is one JSON object.
 */
import { gzipSync } from 'node:zlib';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { jetstream } from '@nats-io/jetstream';
import { callUnary } from '@berth/grpc-kit';
import { connectNats } from '@berth/messaging';
import type { Page } from 'playwright-core';
import { launchChromium } from '../harness/browser.ts';
import { startConsoleStack } from '../harness/console-stack.ts';
import { repoRoot } from '../harness/service.ts';
import { mapLimit } from '../harness/wait.ts';
import { eventually } from '@berth/testing';

const { values } = parseArgs({
  options: {
    hosts: { type: 'string', default: '5000' },
    rate: { type: 'string', default: '500' },
    seconds: { type: 'string', default: '10' },
  },
});
const HOSTS = Number(values.hosts);
const RATE = Number(values.rate);
const SECONDS = Number(values.seconds);
const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

const percentile = (sorted: readonly number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? NaN;

async function main(): Promise<void> {
  const stack = await startConsoleStack('console_bench', { withMigration: false });
  const browser = await launchChromium();
  try {
    const t0 = Date.now();
    await mapLimit(
      Array.from({ length: HOSTS }, (_, i) => i),
      32,
      (i) =>
        stack.register(`h${String(i).padStart(5, '0')}`, {
          cpuModel: 'EPYC-Milan',
          cpus: 32,
          memoryBytes: 256 * GiB,
          cpuOvercommit: 2,
          resourcePool: `pool-${i % 10}`,
          numaNodes: [0, 1].map((n) => ({
            id: n,
            cpus: Array.from({ length: 16 }, (_, c) => n * 16 + c),
            memoryBytes: 128 * GiB,
            hugepages: i % 2 === 0 ? [{ pageSizeBytes: 2 * MiB, total: 4096 }] : [],
          })),
          storagePools: [
            {
              name: 'local',
              type: 'dir',
              path: '/var/lib/berth',
              totalBytes: 2000 * GiB,
              externalUsedBytes: (i % 7) * 50 * GiB,
              isDefault: true,
            },
          ],
        }),
    );
    console.log(`registered ${HOSTS} hosts in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
    const listed = await eventually(
      async () => {
        const n = (await callUnary(stack.inventory, 'listHosts', { state: 0, resourcePool: '', tag: '' })).hosts.length;
        return n === HOSTS ? n : undefined;
      },
      `inventory to list ${HOSTS} hosts`,
      120_000,
      1000,
    );

    // First load: a fresh context (empty cache), JavaScript bytes as received.
    const context = await browser.newContext({ viewport: { width: 1600, height: 1000 } });
    const page = await context.newPage();
    const scriptBytes: number[] = [];
    page.on('requestfinished', (request) => {
      if (request.resourceType() === 'script') void request.sizes().then((s) => scriptBytes.push(s.responseBodySize));
    });
    await page.addInitScript(`
      window.__bench = { counts: [], transport: [] };
      const N = ${HOSTS};
      // The baseline: the same events over a second, bare EventSource (the console's batching and the
      // network, no React), counted as they arrive.
      let transported = 0;
      new EventSource('/api/events').onmessage = (m) => {
        transported += JSON.parse(m.data).events.length;
        window.__bench.transport.push([transported, Date.now()]);
      };
      new MutationObserver(() => {
        const shown = document.querySelector('[data-testid="shown"]');
        if (shown && !window.__bench.shownAt && shown.textContent === N + ' of ' + N + ' shown' && document.querySelector('[data-host]')) {
          window.__bench.shownAt = performance.now();
          requestAnimationFrame(() => setTimeout(() => { window.__bench.paintedAt = performance.now(); }, 0));
        }
        if (shown && window.__bench.searchFor && !window.__bench.searchedAt && shown.textContent === window.__bench.searchFor) {
          window.__bench.searchedAt = performance.now();
          requestAnimationFrame(() => setTimeout(() => { window.__bench.searchPaintedAt = performance.now(); }, 0));
        }
        const received = document.querySelector('[data-testid="events-received"]');
        if (received) {
          const n = parseInt(received.textContent, 10);
          const last = window.__bench.counts[window.__bench.counts.length - 1];
          if (!last || last[0] !== n) window.__bench.counts.push([n, Date.now()]);
        }
      }).observe(document, { subtree: true, childList: true, characterData: true });
    `);
    await page.goto(`${stack.console.url}/`);
    await until(page, 'window.__bench.paintedAt !== undefined', 'the fleet painted', 120_000);
    const timing = await page.evaluate<{ paintedAt: number; responseEnd: number }>(`({
      paintedAt: window.__bench.paintedAt,
      responseEnd: performance.getEntriesByType('resource').find((e) => e.name.includes('/api/rpc/inventory/listHosts')).responseEnd,
    })`);
    await page.waitForLoadState('networkidle').catch(() => undefined);
    const firstLoadKiB = scriptBytes.reduce((s, b) => s + b, 0) / 1024;
    const assets = join(repoRoot, 'services', 'console', 'dist', 'assets');
    const firstLoadGzipKiB =
      readdirSync(assets)
        .filter((f) => f.endsWith('.js'))
        .reduce((s, f) => s + gzipSync(readFileSync(join(assets, f)), { level: 9 }).length, 0) / 1024;

    // Interactive: a search typed into the full fleet, until the one matching row is painted.
    await page.evaluate(`window.__bench.searchFor = '1 of ${HOSTS} shown'; window.__bench.searchStart = performance.now()`);
    await page.getByLabel('Search hosts').fill('h00042');
    await until(page, 'window.__bench.searchPaintedAt !== undefined', 'the search painted', 60_000);
    const searchMillis = await page.evaluate<number>('window.__bench.searchPaintedAt - window.__bench.searchStart');
    await page.getByLabel('Search hosts').fill('');
    await page.getByText(`${HOSTS} of ${HOSTS} shown`).waitFor();

    // Events at RATE per second while the fleet page (HOSTS rows) is open.
    await page.getByText('live', { exact: true }).waitFor();
    await new Promise((r) => setTimeout(r, 2000));
    const baseline = await page.evaluate<number>(`(window.__bench.counts.at(-1) ?? [0])[0]`);
    const transportBaseline = await page.evaluate<number>(`(window.__bench.transport.at(-1) ?? [0])[0]`);
    const nc = await connectNats({ url: process.env['NATS_URL'] ?? 'nats://127.0.0.1:4222', name: 'console-bench' });
    const js = jetstream(nc);
    const subject = `${stack.prefix}.berth.inventory.bench.ConsoleBenchTick`;
    const total = RATE * SECONDS;
    const sentAt: number[] = [];
    const started = Date.now();
    const acks: Promise<unknown>[] = [];
    for (let i = 0; i < total; i++) {
      const due = started + (i * 1000) / RATE;
      const wait = due - Date.now();
      if (wait > 1) await new Promise((r) => setTimeout(r, wait));
      sentAt.push(Date.now());
      const envelope = {
        id: `bench-${started}-${i}`,
        type: 'ConsoleBenchTick',
        schemaVersion: 1,
        streamId: `bench-${i}`,
        streamPosition: 1,
        globalPosition: String(i),
        occurredAt: new Date().toISOString(),
        data: { i },
      };
      acks.push(js.publish(subject, JSON.stringify(envelope)));
    }
    await Promise.all(acks);
    const offered = total / ((Date.now() - started) / 1000);
    await until(page, `(window.__bench.counts.at(-1) ?? [0])[0] >= ${baseline + total}`, 'every event on the screen', 60_000);
    await until(
      page,
      `(window.__bench.transport.at(-1) ?? [0])[0] >= ${transportBaseline + total}`,
      'every event over the bare stream',
      60_000,
    );
    /** Each event's time from publish to the first count (of [count, wall clock] steps) that includes it. */
    const latenciesOf = (counts: readonly [number, number][], from: number): number[] => {
      const out: number[] = [];
      let k = 0;
      for (let i = 0; i < total; i++) {
        while (k < counts.length && counts[k]![0] < from + i + 1) k++;
        out.push(counts[k]![1] - sentAt[i]!);
      }
      return out.sort((a, b) => a - b);
    };
    const latencies = latenciesOf(await page.evaluate<[number, number][]>('window.__bench.counts'), baseline);
    const transport = latenciesOf(await page.evaluate<[number, number][]>('window.__bench.transport'), transportBaseline);
    await nc.close();

    const result = {
      hosts: listed,
      fleetRenderMillis: Math.round(timing.paintedAt - timing.responseEnd),
      fleetLoadMillis: Math.round(timing.paintedAt),
      events: total,
      offeredEventsPerSecond: Math.round(offered),
      searchMillis: Math.round(searchMillis),
      eventToScreenMillis: { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies.at(-1) },
      eventToStreamMillis: { p50: percentile(transport, 50), p99: percentile(transport, 99), max: transport.at(-1) },
      screenOverStream: {
        p50: Math.round((percentile(latencies, 50) / Math.max(1, percentile(transport, 50))) * 100) / 100,
        p99: Math.round((percentile(latencies, 99) / Math.max(1, percentile(transport, 99))) * 100) / 100,
      },
      firstLoadKiB: Math.round(firstLoadKiB * 10) / 10,
      firstLoadGzipKiB: Math.round(firstLoadGzipKiB * 10) / 10,
      targets: { fleetRenderMillis: 1000, eventToScreenMillisP99: 1000, firstLoadKiB: 300 },
      loadAverage: loadavg().map((x) => Math.round(x * 10) / 10),
    };
    const ms = (x: { p50: number; p99: number }) => `p50 ${x.p50} ms, p99 ${x.p99} ms`;
    console.log(`first load: ${result.firstLoadKiB} KiB of JavaScript as received (${result.firstLoadGzipKiB} KiB gzip)`);
    console.log(
      `fleet of ${result.hosts} hosts: painted ${result.fleetRenderMillis} ms after ListHosts arrived, ${result.fleetLoadMillis} ms after navigation; a search painted in ${result.searchMillis} ms`,
    );
    console.log(`${total} events at ${result.offeredEventsPerSecond}/s: on the screen ${ms(result.eventToScreenMillis)}`);
    console.log(
      `  baseline, the same events on a bare EventSource: ${ms(result.eventToStreamMillis)} (screen / stream: ${result.screenOverStream.p50}× p50, ${result.screenOverStream.p99}× p99)`,
    );
    console.log(JSON.stringify(result));
  } finally {
    await browser.close();
    await stack.stop();
  }
}

/**
 * Polls an expression in the page until it is true. (page.waitForFunction with a string predicate
 * compiles it with eval inside the page, which the console's Content-Security-Policy refuses; the
 * times measured are stamped in the page, so the polling interval does not enter them.)
 */
async function until(page: Page, expression: string, what: string, timeoutMillis: number): Promise<void> {
  await eventually(async () => (await page.evaluate<boolean>(expression)) || undefined, what, timeoutMillis, 50);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    console.error(e);
    process.exit(1);
  },
);
