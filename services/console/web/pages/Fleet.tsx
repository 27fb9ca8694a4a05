import { useMemo, useRef } from 'react';
import { Link, useSearchParams } from 'wouter';
import {
  getCoreRowModel,
  getFilteredRowModel,
  getSortedRowModel,
  useReactTable,
  type ColumnDef,
  type SortingState,
} from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import { useState } from 'react';
import { bytes, HOST_STATES, pageSize } from '../format.ts';
import { useHostUsage, useRpc } from '../hooks.ts';
import { Meter } from '../components/Meter.tsx';
import { bucketOf, fleetRow, type FleetRow } from './fleet-model.ts';
import { HeatMap } from './HeatMap.tsx';

const ROW_ESTIMATE = 92;

const columns: ColumnDef<FleetRow>[] = [
  { id: 'name', header: 'Host', accessorKey: 'name' },
  { id: 'state', header: 'State', accessorKey: 'state', filterFn: 'equals' },
  { id: 'pool', header: 'Pool', accessorKey: 'pool', filterFn: 'equals' },
  { id: 'cpu', header: 'vCPUs', accessorKey: 'cpuPct', filterFn: (row, _id, v: number) => bucketOf(row.original.cpuPct) === v },
  { id: 'memory', header: 'Memory', accessorKey: 'memPct', filterFn: (row, _id, v: number) => bucketOf(row.original.memPct) === v },
  { id: 'hugepages', header: 'Hugepages', accessorFn: (r) => r.hugepagesReserved },
  { id: 'vfs', header: 'SR-IOV VFs', accessorKey: 'vfsUsed' },
  { id: 'storage', header: 'Storage pools', accessorFn: (r) => r.host.usage?.storagePools.length ?? 0 },
  { id: 'devices', header: 'Devices', accessorKey: 'devicesUsed' },
  { id: 'vms', header: 'VMs', accessorKey: 'vmCount' },
];

export function FleetPage() {
  const hosts = useRpc('inventory', 'listHosts', {});
  const usage = useHostUsage();
  const [params, setParams] = useSearchParams();
  const [sorting, setSorting] = useState<SortingState>([]);
  const rows = useMemo(() => (hosts.data?.hosts ?? []).map((h) => fleetRow(h, usage.data?.hosts[h.hostId])), [hosts.data, usage.data]);
  // The heat map's measured bands filter on telemetry's readings (hosts without one are in no band).
  const mcpu = params.get('mcpu');
  const mmem = params.get('mmem');
  const data = useMemo(() => {
    const bands = [
      ...(mcpu ? [(r: FleetRow) => r.measuredCpuPct !== undefined && bucketOf(r.measuredCpuPct) === Number(mcpu)] : []),
      ...(mmem ? [(r: FleetRow) => r.measuredMemPct !== undefined && bucketOf(r.measuredMemPct) === Number(mmem)] : []),
    ];
    return bands.length === 0 ? rows : rows.filter((r) => bands.every((inBand) => inBand(r)));
  }, [rows, mcpu, mmem]);
  const q = params.get('q') ?? '';
  // Memoised on the URL's parameters: a new filter array on every render makes TanStack Table recompute
  // its filtered rows and reset its page index (a state update) on every render, a render loop.
  const filters = useMemo(
    () => [
      ...(params.get('state') ? [{ id: 'state', value: params.get('state') }] : []),
      ...(params.get('pool') ? [{ id: 'pool', value: params.get('pool') }] : []),
      ...(params.get('cpu') ? [{ id: 'cpu', value: Number(params.get('cpu')) }] : []),
      ...(params.get('mem') ? [{ id: 'memory', value: Number(params.get('mem')) }] : []),
    ],
    [params],
  );
  const table = useReactTable({
    data,
    columns,
    state: { globalFilter: q, columnFilters: filters, sorting },
    onSortingChange: setSorting,
    // No pagination: the list is virtualised.
    autoResetPageIndex: false,
    globalFilterFn: (row, _c, value: string) => row.original.search.includes(value.toLowerCase()),
    getCoreRowModel: getCoreRowModel(),
    getFilteredRowModel: getFilteredRowModel(),
    getSortedRowModel: getSortedRowModel(),
  });
  const visible = table.getRowModel().rows;
  const scrollRef = useRef<HTMLDivElement>(null);
  const virtualizer = useVirtualizer({
    count: visible.length,
    getScrollElement: () => scrollRef.current,
    estimateSize: () => ROW_ESTIMATE,
    overscan: 8,
  });
  const set = (key: string, value: string) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (value) n.set(key, value);
      else n.delete(key);
      return n;
    });
  const stateCounts = HOST_STATES.map(([, label]) => [label, rows.filter((r) => r.state === label).length] as const);
  const pools = [...new Set(rows.map((r) => r.pool))].sort();

  return (
    <>
      <h1>Fleet</h1>
      <section className="panel" aria-label="Summary">
        <div className="counts">
          <span>
            <Link href="/">{rows.length} hosts</Link>
          </span>
          {stateCounts.map(([label, n]) => (
            <Link key={label} href={`/?state=${encodeURIComponent(label)}`} data-testid={`count-${label}`}>
              {n} {label}
            </Link>
          ))}
          <Link href="/vms">{rows.reduce((s, r) => s + r.vmCount, 0)} VMs</Link>
          <span className="muted" data-testid="last-updated">
            Last updated {hosts.dataUpdatedAt ? new Date(hosts.dataUpdatedAt).toLocaleTimeString(undefined, { hour12: false }) : '—'}
          </span>
        </div>
      </section>
      <HeatMap rows={rows} />
      <div className="toolbar" role="search">
        <label>
          Search hosts
          <input type="search" value={q} onChange={(e) => set('q', e.target.value)} placeholder="name, pool, tag, device" />
        </label>
        <label>
          State
          <select value={params.get('state') ?? ''} onChange={(e) => set('state', e.target.value)}>
            <option value="">any</option>
            {HOST_STATES.map(([, l]) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
        <label>
          Pool
          <select value={params.get('pool') ?? ''} onChange={(e) => set('pool', e.target.value)}>
            <option value="">any</option>
            {pools.map((p) => (
              <option key={p}>{p}</option>
            ))}
          </select>
        </label>
        <span className="muted" data-testid="shown">
          {visible.length} of {rows.length} shown
        </span>
        {hosts.error ? <span className="error">{hosts.error.message}</span> : null}
      </div>
      <div className="grid-table" role="table" aria-label="Hosts" aria-rowcount={visible.length + 1}>
        <div className="grid-head fleet-cols" role="row">
          {table.getFlatHeaders().map((h) => (
            <div
              key={h.id}
              role="columnheader"
              aria-sort={h.column.getIsSorted() === 'asc' ? 'ascending' : h.column.getIsSorted() === 'desc' ? 'descending' : undefined}
            >
              <button type="button" onClick={h.column.getToggleSortingHandler()}>
                {String(h.column.columnDef.header)}
              </button>
            </div>
          ))}
        </div>
        <div ref={scrollRef} className="grid-scroll" style={{ height: 'calc(100vh - 330px)', minHeight: 300 }} data-testid="fleet-scroll">
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }} role="rowgroup">
            {virtualizer.getVirtualItems().map((v) => {
              const r = visible[v.index]!.original;
              return (
                <div
                  key={r.id}
                  ref={virtualizer.measureElement}
                  data-index={v.index}
                  className="grid-row fleet-cols"
                  role="row"
                  aria-rowindex={v.index + 2}
                  data-host={r.id}
                  style={{ position: 'absolute', top: 0, left: 0, right: 0, transform: `translateY(${v.start}px)` }}
                >
                  <HostCells r={r} />
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </>
  );
}

function HostCells({ r }: { r: FleetRow }) {
  const u = r.host.usage;
  return (
    <>
      <div role="cell">
        <Link href={`/hosts/${encodeURIComponent(r.id)}`}>{r.name}</Link>
        {r.name !== r.id ? <div className="muted small">{r.id}</div> : null}
        <div className="muted small">{r.host.spec?.cpuModel}</div>
      </div>
      <div role="cell">
        <span className={`state ${r.state.replaceAll(' ', '-')}`} data-testid={`state-${r.id}`}>
          {r.state}
        </span>
        {r.host.stateReason ? <div className="muted small">{r.host.stateReason}</div> : null}
      </div>
      <div role="cell">{r.pool}</div>
      <div role="cell">
        <Meter
          label="vCPU"
          testId={`vcpus-${r.id}`}
          total={r.vcpusTotal}
          allocated={r.vcpusUsed}
          format={String}
          caption={`${r.cpus} cores × ${r.cpuOvercommit.toFixed(1)} = ${r.vcpusTotal} vCPUs`}
        />
      </div>
      <div role="cell">
        <Meter
          label="Memory"
          testId={`memory-${r.id}`}
          total={r.memoryTotal}
          allocated={r.memoryUsed}
          format={bytes}
          caption={
            r.hugepagesReserved > 0
              ? `(${bytes(r.host.spec?.memoryBytes ?? 0)} − ${bytes(r.hugepagesReserved)} hugepages) × ${r.memoryOvercommit.toFixed(1)}`
              : `${bytes(r.host.spec?.memoryBytes ?? 0)} × ${r.memoryOvercommit.toFixed(1)}`
          }
        />
        {r.measured ? (
          <div className="meter-caption" data-testid={`measured-${r.id}`}>
            measured: {bytes(r.measured.memoryUsedBytes)} of {bytes(r.measured.memoryTotalBytes)} used
            {r.measured.cpuPercent !== undefined ? `, CPU ${Math.round(r.measured.cpuPercent)} % busy` : ''}
          </div>
        ) : null}
      </div>
      <div role="cell" data-testid={`hugepages-${r.id}`}>
        {r.hugepages.length === 0 ? <span className="muted">none</span> : null}
        {r.hugepages.map((p) => (
          <Meter
            key={p.pageSizeBytes}
            label={pageSize(p.pageSizeBytes)}
            testId={`hugepages-${r.id}-${p.pageSizeBytes}`}
            total={p.total}
            allocated={p.used}
            format={String}
          />
        ))}
      </div>
      <div role="cell" data-testid={`vfs-${r.id}`} data-total={r.vfsTotal} data-used={r.vfsUsed}>
        {r.vfsTotal === 0 ? <span className="muted">none</span> : `${r.vfsUsed} / ${r.vfsTotal} used`}
        {(u?.vfs ?? []).map((v) => (
          <div key={v.nic} className="muted small">
            {v.nic}: {v.used}/{v.total}
          </div>
        ))}
      </div>
      <div role="cell">
        {(u?.storagePools ?? []).length === 0 ? <span className="muted">none</span> : null}
        {(u?.storagePools ?? []).map((p) => {
          const external = r.host.spec?.storagePools.find((s) => s.name === p.name)?.externalUsedBytes ?? 0;
          return (
            <Meter
              key={p.name}
              label={p.isDefault ? `${p.name} (default)` : p.name}
              testId={`pool-${r.id}-${p.name}`}
              total={p.totalBytes}
              allocated={p.usedBytes - external}
              other={external}
              format={bytes}
            />
          );
        })}
      </div>
      <div role="cell" data-testid={`devices-${r.id}`} data-total={r.devices} data-used={r.devicesUsed}>
        {r.devices === 0 ? <span className="muted">none</span> : null}
        {summariseDevices(u?.devices ?? []).map(([type, used, total]) => (
          <div key={type}>
            {type}: {used}/{total}
          </div>
        ))}
      </div>
      <div role="cell">
        <Link href={`/vms?host=${encodeURIComponent(r.id)}`} data-testid={`vms-${r.id}`} aria-label={`${r.vmCount} VMs on ${r.name}`}>
          {r.vmCount}
        </Link>
      </div>
    </>
  );
}

function summariseDevices(devices: readonly { type: string; vmId: string }[]): [string, number, number][] {
  const m = new Map<string, [number, number]>();
  for (const d of devices) {
    const e = m.get(d.type) ?? [0, 0];
    m.set(d.type, [e[0] + (d.vmId ? 1 : 0), e[1] + 1]);
  }
  return [...m].map(([t, [u, n]]) => [t, u, n]);
}
