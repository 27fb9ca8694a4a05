/**
 * The benchmark's executors, in their own process (forked by telemetry.bench.ts with an IPC channel): hosts
 * `--from`..`--from + --count - 1` with `--vms` guests each on the simulator's memory model, sampled every
 * `--interval` ms and published on NATS by the executor's own telemetry agent, which also answers the
 * controls. It reports `{ready}` once the fleet is built and starts sampling on `{start}`.
 */
import { parseArgs } from 'node:util';
import { createLogger } from '@berth/observability';
import { connectTestNats } from '@berth/testing';
// The executor's agent plays the executors here (a benchmark may use two services; their src may not).
import { TelemetryAgent } from '../../placement-executor/src/adapters/nats/telemetry-agent.ts';
import { fleetOf } from './fleet.ts';

const { values: a } = parseArgs({
  options: {
    from: { type: 'string', default: '0' },
    count: { type: 'string', default: '1000' },
    vms: { type: 'string', default: '50' },
    interval: { type: 'string', default: '5000' },
    prefix: { type: 'string', default: '' },
  },
});
const nc = await connectTestNats();
const { fleet, model, uris } = await fleetOf(Number(a.from), Number(a.count), Number(a.vms));
const agent = new TelemetryAgent({
  nc,
  prefix: a.prefix,
  hosts: async () => uris,
  driverFor: (uri) => fleet.driver(uri),
  telemetryFor: (uri) => model.source(uri.slice('sim://'.length)),
  power: async () => undefined,
  intervalMillis: Number(a.interval),
  concurrency: 50,
  logger: createLogger('bench-executors', { level: 'warn' }),
});
// Controls are served from now on; sampling starts on the parent's word, at a fixed rate (a round
// every interval, not an interval after the previous round ended, so the rate is the asked one; a
// round that overruns delays the next one, and the harness sees fewer samples).
agent.start(false);
process.send!({ ready: true });
let timer: NodeJS.Timeout | undefined;
let busy = false;
process.on('message', (m: { start?: boolean; stop?: boolean }) => {
  if (m.start) {
    timer = setInterval(() => {
      if (busy) return;
      busy = true;
      void agent.sampleAll().finally(() => (busy = false));
    }, Number(a.interval));
  }
  if (m.stop) {
    clearInterval(timer);
    void agent.stop().then(() => nc.close().then(() => process.exit(0)));
  }
});
