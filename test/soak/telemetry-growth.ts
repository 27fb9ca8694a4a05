/**
 * Telemetry's decision log at the production intervals (issue 16, retention): how many bytes of
 * Postgres `berth_telemetry` grows per hour, per host and per VM, with the policy every 10 s and
 * samples every 5 s (the defaults of TELEMETRY_POLICY_INTERVAL, TELEMETRY_SAMPLE_INTERVAL and
 * EXECUTOR_SAMPLE_INTERVAL), on simulated hosts.
 *
 *   npx tsx scripts/with-infra.ts npx tsx test/soak/telemetry-growth.ts --minutes 10 --hosts 8 --vms-per-host 1,8
 *
 * The plane (private Postgres and nats-server, inventory, scheduler, executor, telemetry as processes)
 * runs one phase per fleet size: the fleet is composed up to `hosts x vms-per-host` running VMs, given
 * `--warmup` seconds (first keyframes), then the database's size (every table with its indexes and
 * TOAST) is taken before and after `--minutes` of no churn. Two fleet sizes on the same hosts give the
 * two figures: per VM = (rate2 - rate1) / (vms2 - vms1), per host = (rate1 - per VM x vms1) / hosts.
 * It also counts what was appended (decisions, quiet entries) from the log. The last line is one JSON
 * object.
 */
import { parseArgs } from 'node:util';
import pg from 'pg';
import { inventoryV1, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { Plane } from './plane.ts';

const GiB = 1024 ** 3;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The defaults of the services' configs (services/telemetry/src/config.ts, placement-executor's). */
export const DEFAULT_INTERVALS = {
  TELEMETRY_POLICY_INTERVAL: '10s',
  TELEMETRY_SAMPLE_INTERVAL: '5s',
  EXECUTOR_SAMPLE_INTERVAL: '5s',
} as const;

async function query<R extends pg.QueryResultRow>(url: string, text: string): Promise<R[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text)).rows;
  } finally {
    await c.end();
  }
}

/** Every user table of the database with its indexes and TOAST, bytes. */
export async function databaseBytes(url: string): Promise<number> {
  const rows = await query<{ bytes: string }>(
    url,
    `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) AS bytes
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE c.relkind = 'r' AND n.nspname NOT IN ('pg_catalog', 'information_schema')`,
  );
  return Number(rows[0]!.bytes);
}

/** What telemetry's log holds: events by type, their number and the bytes of their data. */
async function logCounts(url: string): Promise<Record<string, { events: number; dataBytes: number; entries: number }>> {
  const rows = await query<{ type: string; n: string; bytes: string; entries: string }>(
    url,
    `SELECT type, count(*) AS n, sum(pg_column_size(data)) AS bytes,
            sum(coalesce(jsonb_array_length(data->'entries'), 0)) AS entries
       FROM events GROUP BY type`,
  );
  return Object.fromEntries(rows.map((r) => [r.type, { events: Number(r.n), dataBytes: Number(r.bytes), entries: Number(r.entries) }]));
}

function delta(
  a: Record<string, { events: number; dataBytes: number; entries: number }>,
  b: Record<string, { events: number; dataBytes: number; entries: number }>,
) {
  return Object.fromEntries(
    Object.entries(b).map(([t, v]) => [
      t,
      {
        events: v.events - (a[t]?.events ?? 0),
        dataBytes: v.dataBytes - (a[t]?.dataBytes ?? 0),
        entries: v.entries - (a[t]?.entries ?? 0),
      },
    ]),
  );
}

async function running(plane: Plane): Promise<number> {
  const { vms } = await callUnary(
    plane.inventory,
    'listVms',
    { hostId: '', status: inventoryV1.VmStatus.VM_STATUS_RUNNING },
    { deadline: Date.now() + 30_000 },
  );
  return vms.length;
}

export interface GrowthPhase {
  readonly vms: number;
  readonly minutes: number;
  readonly bytes: number;
  readonly bytesPerHour: number;
  readonly appended: Record<string, { events: number; dataBytes: number; entries: number }>;
}

export async function measureTelemetryGrowth(opts: {
  readonly hosts: number;
  readonly vmsPerHost: readonly number[];
  readonly minutes: number;
  readonly warmupSeconds: number;
  readonly log?: (l: string) => void;
}) {
  const log = opts.log ?? ((l: string) => console.log(l));
  const plane = await Plane.start({
    hosts: opts.hosts,
    hostCpus: 32,
    hostMemoryGiB: 128,
    only: ['scheduler', 'placement-executor', 'telemetry'],
    serviceEnv: DEFAULT_INTERVALS,
  });
  const url = plane.pg.url('berth_telemetry');
  const phases: GrowthPhase[] = [];
  let composed = 0;
  try {
    for (const perHost of opts.vmsPerHost) {
      const target = perHost * opts.hosts;
      for (; composed < target; composed++) {
        const vmId = `tg-${composed}`;
        await callUnary(plane.inventory, 'composeVm', {
          meta: { commandId: `compose-${vmId}` },
          vmId,
          spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 2, memoryBytes: 4 * GiB }),
        });
      }
      const until = Date.now() + 300_000;
      while ((await running(plane)) < target) {
        if (Date.now() > until) throw new Error(`fewer than ${target} VMs running after 5 minutes`);
        await sleep(1000);
      }
      await sleep(opts.warmupSeconds * 1000);
      const [b0, c0] = [await databaseBytes(url), await logCounts(url)];
      const t0 = Date.now();
      await sleep(opts.minutes * 60_000);
      const [b1, c1] = [await databaseBytes(url), await logCounts(url)];
      const minutes = (Date.now() - t0) / 60_000;
      const phase = {
        vms: target,
        minutes: +minutes.toFixed(2),
        bytes: b1 - b0,
        bytesPerHour: Math.round(((b1 - b0) / minutes) * 60),
        appended: delta(c0, c1),
      };
      phases.push(phase);
      log(JSON.stringify({ phase }));
    }
    const [p1, p2] = [phases[0]!, phases[phases.length - 1]!];
    const perVm = phases.length > 1 && p2.vms !== p1.vms ? (p2.bytesPerHour - p1.bytesPerHour) / (p2.vms - p1.vms) : 0;
    const perHost = (p1.bytesPerHour - perVm * p1.vms) / opts.hosts;
    return {
      hosts: opts.hosts,
      intervals: DEFAULT_INTERVALS,
      phases,
      bytesPerHourPerHost: Math.round(perHost),
      bytesPerHourPerVm: Math.round(perVm),
      // What the last phase's fleet grows, per host with its VMs, and per day.
      bytesPerHostDayAtLastPhase: Math.round((p2.bytesPerHour * 24) / opts.hosts),
    };
  } finally {
    await plane.destroy();
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      minutes: { type: 'string', default: '10' },
      hosts: { type: 'string', default: '8' },
      'vms-per-host': { type: 'string', default: '1,8' },
      warmup: { type: 'string', default: '60' },
    },
  });
  const minutes = Number(values.minutes);
  const hosts = Number(values.hosts);
  const vmsPerHost = values['vms-per-host'].split(',').map(Number);
  const warmupSeconds = Number(values.warmup);
  if (!(minutes > 0)) throw new Error(`--minutes: must be > 0, got ${values.minutes}`);
  if (!Number.isInteger(hosts) || hosts < 1) throw new Error(`--hosts: must be a whole number >= 1, got ${values.hosts}`);
  if (vmsPerHost.some((n, i) => !Number.isInteger(n) || n < 0 || (i > 0 && n <= vmsPerHost[i - 1]!)))
    throw new Error(`--vms-per-host: increasing whole numbers >= 0, got ${values['vms-per-host']}`);
  if (!(warmupSeconds >= 0)) throw new Error(`--warmup: seconds >= 0, got ${values.warmup}`);
  const report = await measureTelemetryGrowth({ hosts, vmsPerHost, minutes, warmupSeconds });
  console.log(JSON.stringify(report));
}
