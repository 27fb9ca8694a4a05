/**
 * Sample intake: what the service does with each host sample as it arrives (JSON text -> parsed,
 * validated -> the history), per host sample of `--vms` guests from the simulator's memory model:
 * validated as the service does (`parseSample`: the one-pass check, the schema only for a malformed
 * sample) and, for comparison, by contracts' hostSampleSchema itself (the service's path up to session 8).
 * Prints microseconds per host sample; the last line is one JSON object.
 *
 *   npx tsx services/telemetry/bench/intake.bench.ts [--vms 50] [--n 4000]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { eventSchemas } from '@berth/contracts';
import { parseSample } from '../src/adapters/nats/samples.ts';
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
type Check = 'none' | 'schema' | 'intake';
const check = (c: Exclude<Check, 'none'>, raw: unknown) =>
  c === 'schema' ? eventSchemas.hostSampleSchema.safeParse(raw) : parseSample(raw);
const run = (c: Check): number => {
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) {
    const raw: unknown = JSON.parse(texts[i % texts.length]!);
    if (c !== 'none') {
      const p = check(c, raw);
      if (!p.success) throw new Error(p.error.message);
      history.add(p.data, i);
    } else history.add(raw as Parameters<SampleHistory['add']>[0], i);
  }
  const u = process.cpuUsage(start);
  return (u.user + u.system) / N;
};
run('schema');
run('intake');
run('none');
const parsedOnly: number[] = [];
const validated: number[] = [];
const intake: number[] = [];
for (let r = 0; r < 5; r++) {
  parsedOnly.push(run('none'));
  validated.push(run('schema'));
  intake.push(run('intake'));
}
const validateOnly = (c: Exclude<Check, 'none'>): number => {
  const objs = texts.map((t) => JSON.parse(t) as unknown);
  const start = process.cpuUsage();
  for (let i = 0; i < N; i++) if (!check(c, objs[i % objs.length]).success) throw new Error('invalid');
  const u = process.cpuUsage(start);
  return (u.user + u.system) / N;
};
validateOnly('schema');
validateOnly('intake');
const validation: number[] = [];
const intakeValidation: number[] = [];
for (let r = 0; r < 5; r++) {
  validation.push(validateOnly('schema'));
  intakeValidation.push(validateOnly('intake'));
}
const median = (xs: number[]): number => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)]!;
const out = {
  bytesPerSample: texts[0]!.length,
  microsPerSampleParsedOnly: Math.round(median(parsedOnly)),
  microsPerSampleValidated: Math.round(median(validated)),
  microsPerSampleIntake: Math.round(median(intake)),
  validationMicros: Math.round(median(validation)),
  intakeValidationMicros: Math.round(median(intakeValidation)),
  loadAverage: loadavg()[0],
};
console.log(
  `${VMS} guests, ${out.bytesPerSample} bytes: JSON.parse + history ${out.microsPerSampleParsedOnly} µs; ` +
    `validated as the service does ${out.microsPerSampleIntake} µs (the check alone ${out.intakeValidationMicros} µs), ` +
    `by hostSampleSchema ${out.microsPerSampleValidated} µs (alone ${out.validationMicros} µs)`,
);
console.log(JSON.stringify(out));
