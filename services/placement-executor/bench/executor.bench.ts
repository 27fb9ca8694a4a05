/**
 * Executor throughput on its own: N VmPlaced on simulator hosts (zero added latency) published as
 * inventory would, timed until N VmStarted come back on the bus. Real Postgres and NATS.
 *   npx tsx services/placement-executor/bench/executor.bench.ts -- --vms 1000 --hosts 50
 * Last line: {"vms", "hosts", "seconds", "vmsPerSecond", "p50Millis", "p99Millis", "failed"}.
 */
import { createLogger } from '@berth/observability';
import { connectTestNats, createTestDatabase, testSubjectPrefix } from '@berth/testing';
import { loadExecutorConfig } from '../src/config.ts';
import { startExecutor } from '../src/service.ts';
import { FakeInventory } from '../src/testing/fake-inventory.ts';

const arg = (name: string, def: number): number => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : def;
};
const vms = arg('vms', 1000);
const hosts = arg('hosts', 50);

const db = await createTestDatabase('executor_bench');
const nc = await connectTestNats();
const prefix = testSubjectPrefix('exbench');
const config = loadExecutorConfig({
  DATABASE_URL: db.url,
  NATS_URL: process.env['NATS_URL'],
  NATS_PREFIX: prefix,
  EXECUTOR_GRPC_PORT: '0',
  EXECUTOR_SIMULATOR: 'on',
});
const ex = await startExecutor(config, createLogger('executor-bench'));
const inv = new FakeInventory(nc, prefix);
const sentAt = new Map<string, number>();
const latencies: number[] = [];
let failed = 0;
let provisioning = 0;
let t0 = 0;
const sub = nc.subscribe(`${prefix}.berth.executor.vm.*`);
const done = (async () => {
  for await (const m of sub) {
    const env = m.json<{ type: string; data: { vmId: string } }>();
    if (env.type === 'DomainProvisioningStarted' && ++provisioning === vms)
      console.error(`all DomainProvisioningStarted after ${Math.round(performance.now() - t0)} ms`);
    if (env.type === 'VmStarted') latencies.push(performance.now() - (sentAt.get(env.data.vmId) ?? 0));
    else if (env.type === 'DomainProvisionFailed') failed++;
    if (latencies.length + failed >= vms) return;
  }
})();

t0 = performance.now();
const progress = setInterval(() => {
  if (!process.env['BENCH_TRACE']) return;
  void ex.vms.load('b0').then(() => undefined);
  void (async () => {
    const pg = (await import('pg')).default;
    const c = new pg.Client({ connectionString: db.url });
    await c.connect();
    const r = await c.query('select type, count(*)::int n from events group by type');
    await c.end();
    console.error(
      `${Math.round(performance.now() - t0)} ms: provisioning ${provisioning}, started ${latencies.length}; log ${JSON.stringify(r.rows)}`,
    );
  })();
}, 1000);
await Promise.all(
  Array.from({ length: vms }, async (_, i) => {
    const h = `h${i % hosts}`;
    sentAt.set(`b${i}`, performance.now());
    await inv.place(`b${i}`, h, `sim://${h}`);
  }),
);
await done;
clearInterval(progress);
const seconds = (performance.now() - t0) / 1000;
latencies.sort((a, b) => a - b);
const q = (p: number): number => Math.round(latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))] ?? 0);
sub.unsubscribe();
await ex.stop();
await nc.close();
await db.drop();
console.log(
  JSON.stringify({
    vms,
    hosts,
    seconds: Number(seconds.toFixed(2)),
    vmsPerSecond: Math.round(vms / seconds),
    p50Millis: q(0.5),
    p99Millis: q(0.99),
    failed,
  }),
);
