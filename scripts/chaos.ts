/**
 * The whole-plane crash audit alone (issue 16): `npm run chaos -- --rounds N [--rate OPS_PER_S]`.
 * Runs on a private Postgres and a private nats-server (never the machine's shared ones), prints
 * progress on stderr and, as its last line on stdout, the audit as one JSON object. Exits 1 when
 * any loss figure is not 0.
 */
import { parseArgs } from 'node:util';
import { runChaos } from '../test/soak/chaos.ts';
import { parseServiceEnv } from '../test/soak/plane.ts';

const { values } = parseArgs({
  options: {
    rounds: { type: 'string', default: '3' },
    rate: { type: 'string', default: '8' },
    'log-dir': { type: 'string' },
    // `--service-env NAME=VALUE` (repeatable): added to every service's environment.
    'service-env': { type: 'string', multiple: true, default: [] },
  },
});
const rounds = Number(values.rounds);
const rate = Number(values.rate);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: must be a whole number >= 1, got ${values.rounds}`);
if (!(rate > 0)) throw new Error(`--rate: must be > 0 operations per second, got ${values.rate}`);
const serviceEnv = parseServiceEnv(values['service-env']);
const report = await runChaos({ rounds, rate, serviceEnv, ...(values['log-dir'] ? { logDir: values['log-dir'] } : {}) });
for (const p of report.problems) console.error(`problem: ${p}`);
console.log(JSON.stringify(report));
const bad = report.lost + report.duplicated + report.overcommitted + report.leakedClaims + report.duplicateDomains + report.problems.length;
process.exit(bad === 0 ? 0 : 1);
