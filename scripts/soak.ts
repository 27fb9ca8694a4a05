/**
 * The soak (issue 16), not part of npm test: `npm run soak -- --minutes N [--rate OPS_PER_S]`.
 * Fixed-rate churn on the whole plane over simulated hosts, on a private Postgres and nats-server;
 * one JSON line per minute, and as the last line one JSON object (throughput, p50/p99 per operation
 * per minute, heap and RSS per process with their slopes, Postgres and JetStream sizes, growth,
 * failures, the crash audit's figures). Exits 1 on any failure or loss. `--service-env K=V` (repeatable)
 * adds a variable to every service's environment (e.g. to compare allocator settings).
 */
import { parseArgs } from 'node:util';
import { parseServiceEnv } from '../test/soak/plane.ts';
import { runSoak } from '../test/soak/soak.ts';

const { values } = parseArgs({
  options: {
    minutes: { type: 'string', default: '10' },
    rate: { type: 'string', default: '5' },
    // `--service-env MALLOC_ARENA_MAX=2` (repeatable): added to every service's environment.
    'service-env': { type: 'string', multiple: true, default: [] },
  },
});
const minutes = Number(values.minutes);
const rate = Number(values.rate);
if (!Number.isInteger(minutes) || minutes < 1) throw new Error(`--minutes: must be a whole number >= 1, got ${values.minutes}`);
if (!(rate > 0)) throw new Error(`--rate: must be > 0 operations per second, got ${values.rate}`);
const serviceEnv = parseServiceEnv(values['service-env']);
const report = await runSoak({ minutes, rate, serviceEnv });
console.log(JSON.stringify(report));
const a = report.audit;
const bad = Object.keys(report.failures).length + a.lost + a.duplicated + a.overcommitted + a.leakedClaims + a.duplicateDomains;
process.exit(bad === 0 ? 0 : 1);
