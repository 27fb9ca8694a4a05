/**
 * `npm run bench:startup [-- --rounds N]` (issue 16): how long the whole plane takes to come back, from
 * the sources under tsx against the built JavaScript (scripts/service-build.mjs), interleaved round by
 * round on one private Postgres and nats-server (the chaos plane of test/soak/plane.ts restarted: the
 * five services at once, each until its health answers SERVING). Per round and mode: the plane's seconds, each service's seconds and CPU seconds (user +
 * system, /proc) until SERVING, and the load average. CPU is the figure to compare on a shared machine;
 * the last line is one JSON object with the medians and the ratios built/source.
 */
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { buildServices, buildStaleness } from '../../scripts/service-build.mjs';
import { Plane, SERVICES } from '../soak/plane.ts';
import { repoRoot } from '../harness/service.ts';
import { median } from './stats.ts';

const { values } = parseArgs({ options: { rounds: { type: 'string', default: '3' } } });
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1) throw new Error(`--rounds: must be a whole number >= 1, got ${values.rounds}`);

const TICKS = 100; // USER_HZ on Linux
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS; // utime, stime
}

type Mode = 'source' | 'built';
interface Sample {
  round: number;
  mode: Mode;
  planeSeconds: number;
  load: number;
  services: Record<string, { seconds: number; cpuSeconds: number }>;
}

const why = buildStaleness(repoRoot);
if (why !== undefined) {
  console.error(`building the services (${why})`);
  await buildServices(repoRoot);
}
const plane = await Plane.start({ hosts: 2, hostCpus: 16, hostMemoryGiB: 64 });
const samples: Sample[] = [];
try {
  for (let round = 1; round <= rounds; round++) {
    // Alternate which mode goes first, so neither always meets the same minute of the machine.
    const order: Mode[] = round % 2 === 1 ? ['source', 'built'] : ['built', 'source'];
    for (const mode of order) {
      await plane.killServices();
      process.env['BERTH_RUN_FROM_SOURCE'] = mode === 'source' ? '1' : '0';
      const load = +loadavg()[0]!.toFixed(1);
      const started = Date.now();
      const ready: Record<string, { seconds: number; cpuSeconds: number }> = {};
      // Each service to SERVING (startServices adds a service once its health answers), and its CPU then.
      const watch = setInterval(() => {
        for (const [s, h] of plane.services) ready[s] ??= { seconds: (Date.now() - started) / 1000, cpuSeconds: cpuSeconds(h.pid) };
      }, 50);
      await plane.startServices();
      clearInterval(watch);
      const planeSeconds = (Date.now() - started) / 1000;
      const services: Sample['services'] = {};
      for (const s of SERVICES) {
        const r = ready[s] ?? { seconds: planeSeconds, cpuSeconds: cpuSeconds(plane.services.get(s)!.pid) };
        services[s] = { seconds: +r.seconds.toFixed(1), cpuSeconds: +r.cpuSeconds.toFixed(2) };
      }
      const sample = { round, mode, planeSeconds: +planeSeconds.toFixed(1), load, services };
      samples.push(sample);
      console.error(JSON.stringify(sample));
    }
  }
} finally {
  delete process.env['BERTH_RUN_FROM_SOURCE'];
  await plane.destroy();
}

const summary = (mode: Mode) => {
  const mine = samples.filter((s) => s.mode === mode);
  return {
    planeSeconds: median(mine.map((s) => s.planeSeconds)),
    cpuSecondsAllServices: +median(mine.map((s) => Object.values(s.services).reduce((a, v) => a + v.cpuSeconds, 0))).toFixed(2),
    perService: Object.fromEntries(
      SERVICES.map((svc) => [
        svc,
        {
          seconds: median(mine.map((s) => s.services[svc]!.seconds)),
          cpuSeconds: median(mine.map((s) => s.services[svc]!.cpuSeconds)),
        },
      ]),
    ),
  };
};
const source = summary('source');
const built = summary('built');
console.log(
  JSON.stringify({
    rounds,
    load: { min: Math.min(...samples.map((s) => s.load)), max: Math.max(...samples.map((s) => s.load)) },
    source,
    built,
    ratioPlaneSeconds: +(built.planeSeconds / source.planeSeconds).toFixed(2),
    ratioCpuSeconds: +(built.cpuSecondsAllServices / source.cpuSecondsAllServices).toFixed(2),
    samples,
  }),
);
