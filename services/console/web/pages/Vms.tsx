import { useMemo, useRef, useState } from 'react';
import { Link, useSearchParams } from 'wouter';
import { useMutation, useQueryClient } from '@tanstack/react-query';
import {
  getCoreRowModel,
  getFilteredRowModel,
  getSortedRowModel,
  useReactTable,
  type ColumnDef,
  type SortingState,
} from '@tanstack/react-table';
import { useVirtualizer } from '@tanstack/react-virtual';
import type { Vm } from '@berth/proto/berth/inventory/v1/vm.ts';
import { commandMeta, rpc } from '../client.ts';
import { bytes, slaTier, VM_STATUSES, vmStatus } from '../format.ts';
import { useRpc } from '../hooks.ts';
import { withFreshest } from '../live.ts';
import { ActionButton } from '../components/WhyNot.tsx';
import { whyNot, type VmAction } from './vm-actions.ts';

interface VmRow {
  readonly vm: Vm;
  readonly id: string;
  readonly name: string;
  readonly status: string;
  readonly host: string;
  readonly pool: string;
  readonly sla: string;
  readonly tags: string;
  readonly search: string;
}

const columns: ColumnDef<VmRow>[] = [
  { id: 'select', header: '' },
  { id: 'name', header: 'VM', accessorKey: 'name' },
  { id: 'status', header: 'Status', accessorKey: 'status', filterFn: 'equals' },
  { id: 'host', header: 'Host', accessorKey: 'host', filterFn: 'equals' },
  { id: 'vcpus', header: 'vCPUs', accessorFn: (r) => r.vm.spec?.vcpus ?? 0 },
  { id: 'memory', header: 'Memory', accessorFn: (r) => r.vm.spec?.memoryBytes ?? 0 },
  { id: 'pool', header: 'Pool', accessorKey: 'pool', filterFn: 'equals' },
  { id: 'sla', header: 'SLA', accessorKey: 'sla', filterFn: 'equals' },
  { id: 'tags', header: 'Tags', accessorKey: 'tags', filterFn: 'includesString' },
];

export function VmsPage() {
  const vms = useRpc('inventory', 'listVms', {});
  const [params, setParams] = useSearchParams();
  const [sorting, setSorting] = useState<SortingState>([]);
  const [selected, setSelected] = useState<ReadonlySet<string>>(new Set());
  const rows = useMemo<VmRow[]>(
    () =>
      withFreshest(vms.data?.vms ?? []).map((vm) => {
        const status = vmStatus(vm.status);
        const tags = (vm.spec?.tags ?? []).join(', ');
        return {
          vm,
          id: vm.vmId,
          name: vm.spec?.name || vm.vmId,
          status,
          host: vm.hostId,
          pool: vm.spec?.resourcePool || 'default',
          sla: slaTier(vm.spec?.slaTier ?? 0),
          tags,
          search: `${vm.vmId} ${vm.spec?.name ?? ''} ${status} ${vm.hostId} ${tags}`.toLowerCase(),
        };
      }),
    [vms.data],
  );
  // Memoised on the URL's parameters (a new array each render is a render loop in TanStack Table, see Fleet.tsx).
  const filters = useMemo(
    () => (['status', 'host', 'pool', 'sla', 'tags'] as const).flatMap((k) => (params.get(k) ? [{ id: k, value: params.get(k) }] : [])),
    [params],
  );
  const q = params.get('q') ?? '';
  const table = useReactTable({
    data: rows,
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
    estimateSize: () => 34,
    overscan: 10,
  });
  const set = (key: string, value: string) =>
    setParams((p) => {
      const n = new URLSearchParams(p);
      if (value) n.set(key, value);
      else n.delete(key);
      return n;
    });
  const chosen = rows.filter((r) => selected.has(r.id));
  const toggle = (id: string) =>
    setSelected((s) => {
      const n = new Set(s);
      if (n.has(id)) n.delete(id);
      else n.add(id);
      return n;
    });
  const distinct = (k: 'host' | 'pool' | 'sla') => [...new Set(rows.map((r) => r[k]).filter(Boolean))].sort();
  return (
    <>
      <h1>VMs</h1>
      <div className="toolbar" role="search">
        <label>
          Search VMs
          <input type="search" value={q} onChange={(e) => set('q', e.target.value)} placeholder="name, id, host, tag" />
        </label>
        <label>
          Status
          <select value={params.get('status') ?? ''} onChange={(e) => set('status', e.target.value)}>
            <option value="">any</option>
            {VM_STATUSES.map(([, l]) => (
              <option key={l}>{l}</option>
            ))}
          </select>
        </label>
        {(['host', 'pool', 'sla'] as const).map((k) => (
          <label key={k}>
            {k === 'sla' ? 'SLA class' : k[0]!.toUpperCase() + k.slice(1)}
            <select value={params.get(k) ?? ''} onChange={(e) => set(k, e.target.value)}>
              <option value="">any</option>
              {distinct(k).map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
          </label>
        ))}
        <label>
          Tag
          <input value={params.get('tags') ?? ''} onChange={(e) => set('tags', e.target.value)} />
        </label>
        <span className="muted" data-testid="vms-shown">
          {visible.length} of {rows.length} shown
        </span>
      </div>
      <BulkActions selected={chosen.map((r) => r.vm)} onDone={() => setSelected(new Set())} />
      <div className="grid-table" role="table" aria-label="VMs" aria-rowcount={visible.length + 1}>
        <div className="grid-head vm-cols" role="row">
          {table.getFlatHeaders().map((h) => (
            <div key={h.id} role="columnheader">
              {h.id === 'select' ? (
                <span className="sr-only">Select</span>
              ) : (
                <button type="button" onClick={h.column.getToggleSortingHandler()}>
                  {String(h.column.columnDef.header)}
                </button>
              )}
            </div>
          ))}
        </div>
        <div ref={scrollRef} className="grid-scroll" style={{ height: 'calc(100vh - 260px)', minHeight: 300 }}>
          <div style={{ height: virtualizer.getTotalSize(), position: 'relative' }} role="rowgroup">
            {virtualizer.getVirtualItems().map((v) => {
              const r = visible[v.index]!.original;
              return (
                <div
                  key={r.id}
                  className="grid-row vm-cols"
                  role="row"
                  data-vm={r.id}
                  data-status={r.status}
                  style={{ position: 'absolute', top: 0, left: 0, right: 0, height: v.size, transform: `translateY(${v.start}px)` }}
                >
                  <div role="cell">
                    <input type="checkbox" aria-label={`select ${r.name}`} checked={selected.has(r.id)} onChange={() => toggle(r.id)} />
                  </div>
                  <div role="cell">
                    <Link href={`/vms/${encodeURIComponent(r.id)}`}>{r.name}</Link>
                  </div>
                  <div role="cell">
                    <span className={`state ${r.status.replaceAll(' ', '-')}`}>{r.status}</span>
                  </div>
                  <div role="cell">{r.host ? <Link href={`/hosts/${encodeURIComponent(r.host)}`}>{r.host}</Link> : '—'}</div>
                  <div role="cell">{r.vm.spec?.vcpus}</div>
                  <div role="cell">{bytes(r.vm.spec?.memoryBytes ?? 0)}</div>
                  <div role="cell">{r.pool}</div>
                  <div role="cell">{r.sla}</div>
                  <div role="cell">{r.tags}</div>
                </div>
              );
            })}
          </div>
        </div>
      </div>
    </>
  );
}

function BulkActions({ selected, onDone }: { selected: readonly Vm[]; onDone: () => void }) {
  const queryClient = useQueryClient();
  const run = useMutation({
    mutationFn: async (action: VmAction) => {
      const results = await Promise.allSettled(
        selected
          .filter((vm) => whyNot(vm, action) === undefined)
          .map((vm) => rpc('inventory', `${action}Vm`, { meta: commandMeta(action), vmId: vm.vmId })),
      );
      const failed = results.filter((r) => r.status === 'rejected');
      if (failed.length > 0)
        throw new Error(`${failed.length} of ${results.length} failed: ${(failed[0] as PromiseRejectedResult).reason}`);
    },
    onSuccess: onDone,
    onSettled: () => void queryClient.invalidateQueries(),
  });
  const reason = (action: VmAction) => {
    if (selected.length === 0) return 'select VMs first';
    return selected.some((vm) => whyNot(vm, action) === undefined)
      ? undefined
      : `none of the selected VMs can: ${whyNot(selected[0]!, action)}`;
  };
  return (
    <div className="toolbar" aria-label="Bulk actions" role="group">
      <span>{selected.length} selected</span>
      {(['start', 'stop', 'reboot', 'delete'] as const).map((a) => (
        <ActionButton
          key={a}
          id={`bulk-${a}`}
          kind={a === 'delete' ? 'danger' : undefined}
          onClick={() => run.mutate(a)}
          whyNot={reason(a)}
        >
          {a[0]!.toUpperCase() + a.slice(1)}
        </ActionButton>
      ))}
      {run.error ? <span className="error">{run.error.message}</span> : null}
    </div>
  );
}
