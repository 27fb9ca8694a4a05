/**
 * Sample intake: what the service does with each host sample as it arrives (JSON text -> parsed,
 * validated by contracts' hostSampleSchema -> the history), per host sample of `--vms` guests from the
 * simulator's memory model. Prints microseconds per host sample; the last line is one JSON object.
 *
 *   npx tsx services/telemetry/bench/intake.bench.ts [--vms 50] [--n 4000]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { eventSchemas } from '@berth/contracts';
import { SampleHistory } from '../src/application/history.ts';
import { prepareGuestSample } from '../src/application/input.ts';
import { fleetOf } from './fleet.ts';

const { values: a } = parseArgs({ options: { vms: { type: 'string', default: '50' }, n: { type: 'string', default: '4000' } } });
const VMS = Number(a.vms);
const N = Number(a.n);
const { model } = await fleetOf(0, 1, VMS);
const caps = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const texts: string[] = [];
for (let i = 0; i < 20; i++) {
  const s = await model.source('bh0000').sample();
  texts.push(
    JSON.stringify({
      v: 1,
      hostId: 'bh0000',
      at: new Date().toISOString(),
      capabilities: caps,
      host: s.host,
      guests: s.guests.map((g) => ({ vmId: g.vmId ?? g.name, stats: g.stats })),
    }),
  );
}
const history = new SampleHistory(10, prepareGuestSample({ get: () => undefined }));
const run = (validate: boolean): number => {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const raw: unknown = JSON.parse(texts[i % texts.length]!);
    if (validate) {
      const p = eventSchemas.hostSampleSchema.safeParse(raw);
      if (!p.success) throw new Error(p.error.message);
      history.add(p.data, i);
    } else history.add(raw as Parameters<SampleHistory['add']>[0], i);
  }
  const u = process.cpuUsage(start);
  return (u.user + u.system) / N;
};
run(true);
run(false);
const parsedOnly: number[] = [];
const validated: number[] = [];
for (let r = 0; r < 5; r++) {
  parsedOnly.push(run(false));
  validated.push(run(true));
}
const validateOnly = (): number => {
  const objs = texts.map((t) => JSON.parse(t) as unknown);
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) if (!eventSchemas.hostSampleSchema.safeParse(objs[i % objs.length]).success) throw new Error('invalid');
  const u = process.cpuUsage(start);
  return (u.user + u.system) / N;
};
validateOnly();
const validation: number[] = [];
for (let r = 0; r < 5; r++) validation.push(validateOnly());
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const out = {
  bytesPerSample: texts[0]!.length,
  microsPerSampleParsedOnly: Math.round(median(parsedOnly)),
  microsPerSampleValidated: Math.round(median(validated)),
  validationMicros: Math.round(median(validation)),
  loadAverage: loadavg()[0],
};
console.log(
  `${VMS} guests, ${out.bytesPerSample} bytes: JSON.parse + history ${out.microsPerSampleParsedOnly} µs, with validation ${out.microsPerSampleValidated} µs`,
);
console.log(JSON.stringify(out));
