import { useEffect, useState } from 'react';
import { useQueryClient, type QueryClient } from '@tanstack/react-query';
import { VmStatus, type Vm } from '@berth/proto/berth/inventory/v1/vm.ts';
import type { ConsoleEvent, EventBatch, ResponseOf } from '../src/api.ts';
import { rpc } from './client.ts';

/** Queries to refetch, at most once per this long, however many events arrive. */
const REFRESH_MILLIS = 250;
const FEED_LENGTH = 40;
const TRAILING_MILLIS = 300;

/**
 * Follows /api/events (server-sent, batched by the console every ~100 ms). Each batch updates the
 * activity feed in one render and marks the cached queries stale; the refetch is throttled so a
 * burst of 500 events per second costs a few refetches, not 500.
 */
export function useLiveEvents(): { feed: readonly ConsoleEvent[]; connected: boolean; received: number } {
  const queryClient = useQueryClient();
  const [state, setState] = useState<{ feed: readonly ConsoleEvent[]; connected: boolean; received: number }>({
    feed: [],
    connected: false,
    received: 0,
  });
  useEffect(() => {
    const source = new EventSource('/api/events');
    const refresh = throttled(queryClient);
    source.onopen = () => setState((s) => ({ ...s, connected: true }));
    source.onerror = () => setState((s) => ({ ...s, connected: false }));
    source.onmessage = (m: MessageEvent<string>) => {
      const batch = JSON.parse(m.data) as EventBatch;
      setState((s) => ({
        connected: true,
        received: s.received + batch.events.length,
        feed: [...batch.events.slice(-FEED_LENGTH).reverse(), ...s.feed].slice(0, FEED_LENGTH),
      }));
      refresh();
      void upsertVms(queryClient, batch.events);
    };
    return () => source.close();
  }, [queryClient]);
  return state;
}

/** VMs read at once per batch; a bigger burst waits for the (throttled) list refetch. */
const VM_READS_PER_BATCH = 20;

/**
 * A VM's own events name it (`vm-<id>`): its record is read at once (GetVm folds the VM's log, so it
 * is never behind the event) and put into the cached VM lists, so a new VM shows without waiting for
 * inventory's read model, which may answer the list a moment behind.
 */
async function upsertVms(queryClient: QueryClient, events: readonly ConsoleEvent[]): Promise<void> {
  const ids = [
    ...new Set(
      events.filter((e) => e.subject.startsWith('berth.inventory.vm.') && e.streamId.startsWith('vm-')).map((e) => e.streamId.slice(3)),
    ),
  ];
  if (ids.length === 0 || ids.length > VM_READS_PER_BATCH) return;
  const lists = queryClient.getQueriesData<ResponseOf<'inventory', 'listVms'>>({ queryKey: ['inventory', 'listVms'] });
  if (lists.length === 0) return;
  const fresh = (await Promise.allSettled(ids.map((vmId) => rpc('inventory', 'getVm', { vmId })))).flatMap((r) =>
    r.status === 'fulfilled' && r.value.vm ? [r.value.vm] : [],
  );
  for (const vm of fresh) if ((freshest.get(vm.vmId)?.version ?? -1) <= vm.version) freshest.set(vm.vmId, vm);
  for (const [key] of lists) {
    // Only the unfiltered list: a filtered one (by host or status) is left to its refetch.
    if (Object.values(key[2] ?? {}).some(Boolean)) continue;
    queryClient.setQueryData<ResponseOf<'inventory', 'listVms'>>(key, (old) => (old ? { vms: merge(old.vms, fresh) } : old));
  }
}

/**
 * The newest record of each VM read after its events, until the list has caught up with it: a list
 * refetch answered by a read model that lags (under load, longer than the trailing refetch waits)
 * would otherwise take a VM's last status, or a new VM, off the page until the next event.
 */
const freshest = new Map<string, Vm>();

/** The VM list with every VM at least as new as the console has read it (the unfiltered list only). */
export function withFreshest(list: readonly Vm[]): Vm[] {
  const listed = new Map(list.map((v) => [v.vmId, v.version]));
  for (const [vmId, vm] of freshest) if ((listed.get(vmId) ?? -1) >= vm.version) freshest.delete(vmId);
  return merge(
    list,
    [...freshest.values()].filter((v) => listed.has(v.vmId) || v.status !== VmStatus.VM_STATUS_DELETED),
  );
}

function merge(list: readonly Vm[], fresh: readonly Vm[]): Vm[] {
  const byId = new Map(fresh.map((v) => [v.vmId, v]));
  const out = list.map((v) => {
    const f = byId.get(v.vmId);
    byId.delete(v.vmId);
    return f && f.version >= v.version ? f : v;
  });
  return [...out, ...byId.values()];
}

/**
 * Refetches the cached queries at most every REFRESH_MILLIS, and once more TRAILING_MILLIS after the
 * last event: inventory's read model may answer a moment behind the event that announced a change.
 * A fetch still in flight is not cancelled (a big list would otherwise never finish under a burst).
 */
function throttled(queryClient: QueryClient): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let trailing: ReturnType<typeof setTimeout> | undefined;
  let last = 0;
  const refetch = (): void => {
    last = Date.now();
    void queryClient.invalidateQueries({ predicate: (q) => q.queryKey[0] !== 'static' }, { cancelRefetch: false });
  };
  return () => {
    if (trailing) clearTimeout(trailing);
    trailing = setTimeout(() => {
      trailing = undefined;
      refetch();
    }, TRAILING_MILLIS);
    if (timer) return;
    timer = setTimeout(
      () => {
        timer = undefined;
        refetch();
      },
      Math.max(0, last + REFRESH_MILLIS - Date.now()),
    );
  };
}
