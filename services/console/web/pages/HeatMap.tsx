import { Link } from 'wouter';
import { bucketOf, type FleetRow } from './fleet-model.ts';

const colour = (bucket: number, n: number) => (n === 0 ? '#f2f4f6' : `hsl(${120 - bucket * 13}, 70%, ${80 - Math.min(30, n)}%)`);

/** One heat-map row: which number of a host it bands, its label and its filter parameter on the fleet page. */
interface Kind {
  readonly param: 'cpu' | 'mem' | 'mcpu' | 'mmem';
  readonly label: string;
  readonly of: (r: FleetRow) => number | undefined;
}

const ALLOCATED: readonly Kind[] = [
  { param: 'cpu', label: 'vCPU allocated', of: (r) => r.cpuPct },
  { param: 'mem', label: 'memory allocated', of: (r) => r.memPct },
];
const MEASURED: readonly Kind[] = [
  { param: 'mcpu', label: 'CPU measured', of: (r) => r.measuredCpuPct },
  { param: 'mmem', label: 'memory measured', of: (r) => r.measuredMemPct },
];

/**
 * Per resource pool: how many hosts sit in each 10 % band of vCPU and memory allocation (what Berth
 * has handed out) and, for the hosts telemetry reports on, of measured CPU and memory use (what the
 * machines really do). A band is a link to the hosts in it. (Bands instead of one cell per host: it
 * stays readable at 5,000 hosts.)
 */
export function HeatMap({ rows }: { rows: readonly FleetRow[] }) {
  const pools = new Map<string, FleetRow[]>();
  for (const r of rows) pools.set(r.pool, [...(pools.get(r.pool) ?? []), r]);
  const reporting = rows.filter((r) => r.measured).length;
  return (
    <section className="panel" aria-labelledby="heat-title">
      <h2 id="heat-title">Heat map by pool</h2>
      <p className="muted small" data-testid="heat-source">
        Hosts per 10 % band (0–9 % … 90–100 %) of allocated vCPUs and memory
        {reporting > 0
          ? `, and of CPU and memory measured by telemetry on the ${reporting} of ${rows.length} hosts it reports.`
          : '. Allocation only: telemetry reports no measured usage.'}
      </p>
      {[...pools].map(([pool, hosts]) =>
        [...ALLOCATED, ...(hosts.some((h) => h.measured) ? MEASURED : [])].map((kind) => {
          const counts = new Array<number>(10).fill(0);
          for (const h of hosts) {
            const pct = kind.of(h);
            if (pct !== undefined) counts[bucketOf(pct)]! += 1;
          }
          return (
            <div className="heat" key={`${pool}-${kind.param}`} data-testid={`heat-${pool}-${kind.param}`}>
              <span>
                {pool} · {kind.label}
              </span>
              {counts.map((n, b) => (
                <Link
                  key={b}
                  href={`/?pool=${encodeURIComponent(pool)}&${kind.param}=${b}`}
                  style={{ background: colour(b, n) }}
                  aria-label={`${n} hosts in ${pool} at ${b * 10}–${b * 10 + 9} % ${kind.label}`}
                >
                  {n}
                </Link>
              ))}
            </div>
          );
        }),
      )}
    </section>
  );
}
