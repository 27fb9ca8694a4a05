import { Link } from 'wouter';
import { bucketOf, type FleetRow } from './fleet-model.ts';

const colour = (bucket: number, n: number) => (n === 0 ? '#f2f4f6' : `hsl(${120 - bucket * 13}, 70%, ${80 - Math.min(30, n)}%)`);

/**
 * Per resource pool: how many hosts sit in each 10 % band of CPU and memory allocation. A band is a
 * link to the hosts in it. (Bands instead of one cell per host: it stays readable at 5,000 hosts.)
 */
export function HeatMap({ rows }: { rows: readonly FleetRow[] }) {
  const pools = new Map<string, FleetRow[]>();
  for (const r of rows) pools.set(r.pool, [...(pools.get(r.pool) ?? []), r]);
  return (
    <section className="panel" aria-labelledby="heat-title">
      <h2 id="heat-title">Allocation by pool</h2>
      <p className="muted small">
        Hosts per 10 % band of allocated vCPUs and memory (0–9 % … 90–100 %). Measured usage appears once telemetry reports it.
      </p>
      {[...pools].map(([pool, hosts]) =>
        (['cpu', 'mem'] as const).map((kind) => {
          const counts = new Array<number>(10).fill(0);
          for (const h of hosts) counts[bucketOf(kind === 'cpu' ? h.cpuPct : h.memPct)]! += 1;
          return (
            <div className="heat" key={`${pool}-${kind}`}>
              <span>
                {pool} · {kind === 'cpu' ? 'vCPU' : 'memory'}
              </span>
              {counts.map((n, b) => (
                <Link
                  key={b}
                  href={`/?pool=${encodeURIComponent(pool)}&${kind}=${b}`}
                  style={{ background: colour(b, n) }}
                  aria-label={`${n} hosts in ${pool} at ${b * 10}–${b * 10 + 9} % ${kind === 'cpu' ? 'vCPU' : 'memory'} allocation`}
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
