/**
 * Micro-benchmark of event encoding on the append path, old against new in the same run: a VmPlaced
 * payload as inventory appends it (~2.5 KB of nested JSON). Old and new alternate in short rounds
 * (so load from other work hits both alike) and the median round is reported, in ns per event.
 *
 *   toJson           validation + JSON text: stringify with a throwing replacer vs scan + plain stringify
 *   prepare+docs     prepareAppend of one event plus its data/metadata docs as appends return them:
 *                    the old JSON.parse of the prepared JSON vs the docs prepareAppend now builds
 *
 *   npx tsx libs/event-store/bench/encode-data.bench.ts      (last line: one JSON object)
 */
import { loadavg } from 'node:os';
import { encodeData, strictToJson } from '../src/json.ts';
import { prepareAppend } from '../src/validate.ts';

const ROUNDS = 15;
const ROUND_EVENTS = 4000;

function vmPlaced(i: number): unknown {
  const breakdown = () => ({
    cost: { scale: 1, total: 0, offset: 0, devices: {}, costFunction: null },
    weights: { policy: 1.2345679012345678, hpTopology: 0, softAffinity: 0, numaAlignment: 0 },
  });
  const host = (n: number): string => `sim-${String(n).padStart(4, '0')}`;
  return {
    spec: {
      name: `vm-${i}`,
      nics: [],
      tags: [],
      vmId: `vm-${i}`,
      disks: [],
      vcpus: 1,
      devices: [],
      slaTier: 'silver',
      affinity: [],
      priority: 0,
      cpuPolicy: 'shared',
      numaNodes: [],
      memoryBytes: 1073741824,
      allowedHosts: [],
      migrationMode: 'manual-and-automatic',
      passthroughCpu: false,
      highPerformance: false,
    },
    claim: {
      vfs: [],
      vmId: `vm-${i}`,
      vcpus: 1,
      hostId: host(14),
      devices: [],
      volumes: [],
      hugepages: [],
      numaCells: [],
      pinnedCpus: [],
      memoryBytes: 1073741824,
      affinityGroups: [],
    },
    hostId: host(14),
    attempt: 1,
    alternates: Array.from({ length: 15 }, (_, k) => ({ hostId: host(k + 2), generation: 1 })),
    generation: 2,
    explanation: {
      chosen: { score: 1.2345679012345678, hostId: host(14), hostName: host(14), breakdown: breakdown() },
      summary: `vm-${i} goes to ${host(14)} (score 1.2346; 16 runners-up)`,
      runnersUp: [1, 2, 3].map((k) => ({ score: 1.2345679012345678, hostId: host(k), hostName: host(k), breakdown: breakdown() })),
    },
    hypervisorUri: `sim://${host(14)}`,
  };
}

const events = Array.from({ length: ROUND_EVENTS }, (_, i) => vmPlaced(i));
const context = (): Record<string, string> => ({ traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01' });
let sink = 0;

/** The old prepare path: the old toJson (the strict encoding alone) inside the prepared JSON, then the JSON.parse appends did for the docs. */
function oldPrepare(data: unknown): unknown {
  const meta = { ...context() };
  const json = `[{"id":"7f0f8f0e-2f7e-4a48-9d3c-8a0f1c2b3d4e","type":"VmPlaced","schemaVersion":1,"metadata":${JSON.stringify(meta)},"data":${strictToJson(data)}}]`;
  return (JSON.parse(json) as { data: unknown }[])[0]!.data;
}

const cases: Record<string, { old: (d: unknown) => unknown; new: (d: unknown) => unknown }> = {
  toJson: { old: (d) => strictToJson(d).length, new: (d) => encodeData(d).json.length },
  'prepare+docs': {
    // prepareAppend now does the old toJson's work through encodeData; its other work is the same in both.
    old: (d) => {
      prepareAppend('vm-1', [{ type: 'VmPlaced', data: 1 }], { expectedVersion: 1 }, context); // the per-append work without the payload
      return oldPrepare(d);
    },
    new: (d) => prepareAppend('vm-1', [{ type: 'VmPlaced', data: d }], { expectedVersion: 1 }, context).docs[0]!.data,
  },
};

function round(fn: (d: unknown) => unknown): number {
  const t0 = process.hrtime.bigint();
  for (const e of events) sink += fn(e) === undefined ? 0 : 1;
  return Number(process.hrtime.bigint() - t0) / ROUND_EVENTS;
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const bytes = JSON.stringify(events[0]).length;
const load = loadavg().map((l) => Math.round(l * 10) / 10);
console.log(`payload ${bytes} bytes of JSON, ${ROUNDS} rounds x ${ROUND_EVENTS} events, load ${load.join(' ')}`);
const result: Record<string, { oldNsPerEvent: number; newNsPerEvent: number; ratio: number }> = {};
for (const [name, c] of Object.entries(cases)) {
  for (let i = 0; i < 3; i++) {
    round(c.old); // warm up both
    round(c.new);
  }
  const olds: number[] = [];
  const news: number[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    olds.push(round(c.old));
    news.push(round(c.new));
  }
  const o = Math.round(median(olds));
  const n = Math.round(median(news));
  const ratio = Math.round((o / n) * 100) / 100;
  result[name] = { oldNsPerEvent: o, newNsPerEvent: n, ratio };
  console.log(`${name.padEnd(14)} old ${String(o).padStart(7)} ns/event   new ${String(n).padStart(7)} ns/event   old/new ${ratio}`);
}
const plain: number[] = [];
for (let i = 0; i < ROUNDS; i++) plain.push(round((d) => JSON.stringify(d).length));
const plainNs = Math.round(median(plain));
console.log(`(reference: plain JSON.stringify alone ${plainNs} ns/event)`);
if (sink < 0) console.log(sink);
console.log(JSON.stringify({ payloadBytes: bytes, ...result, plainStringifyNsPerEvent: plainNs, loadAverage: load }));
