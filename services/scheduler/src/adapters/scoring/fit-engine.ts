/**
 * A minimal PlacementEngine over @berth/fit alone: every fit filter, then pack (the fullest host
 * after placement wins, ties by host id). Used until/unless the full @berth/scoring engine with
 * cost functions is wired (see scoring-engine.ts); also the behaviour of the default cost
 * function (vms + vcpus + memory, as pack).
 */
import { allocatableMemory, allocatableVcpus, fits, usage, type FilterName, type FitFailure, type HostSnapshot, type VmSpec } from '@berth/fit';
import type { Candidate, Decision, DecideOptions, PlacementEngine, WhatIfResult } from '../../application/ports.ts';
import { applyClaimToSnapshot, summarizeFailures } from './explain.ts';

function candidates(vm: VmSpec, hosts: readonly HostSnapshot[], excluded: ReadonlySet<string>, misses: Map<FilterName, FitFailure[]>): Candidate[] {
  const out: Candidate[] = [];
  for (const host of hosts) {
    const cap = host.capacity;
    if (excluded.has(cap.hostId)) continue;
    const u = usage(host);
    const r = fits(host, vm, u);
    if (!r.ok) {
      const first = r.reasons[0];
      if (first !== undefined) {
        const list = misses.get(first.filter) ?? [];
        list.push(first);
        misses.set(first.filter, list);
      }
      continue;
    }
    const vcpus = (u.vcpus + vm.vcpus) / Math.max(1, allocatableVcpus(cap.cpus, cap.cpuOvercommit));
    const memory = (u.memoryBytes + vm.memoryBytes) / Math.max(1, allocatableMemory(cap.memoryBytes, cap.memoryOvercommit));
    // Pack: lower free share after placement is better; vms breaks near-ties towards busy hosts.
    const breakdown = { policy: 'pack', vcpusUsedShare: vcpus, memoryUsedShare: memory, vms: u.vms + 1 };
    out.push({ hostId: cap.hostId, hostName: cap.name, generation: host.generation, claim: r.claim, score: 2 - vcpus - memory, breakdown });
  }
  return out.sort((a, b) => a.score - b.score || (a.hostId < b.hostId ? -1 : a.hostId > b.hostId ? 1 : 0));
}

export const fitEngine: PlacementEngine = {
  decide(vm, hosts, opts: DecideOptions): Decision {
    const misses = new Map<FilterName, FitFailure[]>();
    const ranked = candidates(vm, hosts, new Set(opts.excludedHosts), misses);
    const [chosen, ...rest] = ranked;
    if (chosen === undefined) return failed(vm, hosts.length, opts.excludedHosts.length, misses);
    return {
      kind: 'placed',
      chosen,
      alternates: rest.slice(0, opts.alternates),
      summary: `${ranked.length}/${hosts.length} hosts can take ${vm.name}; chose ${chosen.hostName} (score ${chosen.score.toFixed(4)})`,
    };
  },
  rank(vm, hosts, limit) {
    const misses = new Map<FilterName, FitFailure[]>();
    const ranked = candidates(vm, hosts, new Set(), misses);
    const [chosen, ...rest] = ranked;
    if (chosen === undefined) return failed(vm, hosts.length, 0, misses);
    return { kind: 'placed', chosen, alternates: rest.slice(0, Math.max(0, limit - 1)), summary: `${ranked.length}/${hosts.length} hosts can take ${vm.name}`, ranked: ranked.slice(0, limit) };
  },
  whatIf(vm, hosts): WhatIfResult {
    const perHost = hosts.map((h) => {
      let snapshot = h;
      let count = 0;
      // Bounded so a zero-sized spec cannot loop forever.
      for (; count < 100_000; count++) {
        const r = fits(snapshot, { ...vm, vmId: `${vm.vmId || 'what-if'}#${count}` });
        if (!r.ok) break;
        snapshot = applyClaimToSnapshot(snapshot, r.claim);
      }
      return { hostId: h.capacity.hostId, hostName: h.capacity.name, count };
    });
    return { total: perHost.reduce((s, p) => s + p.count, 0), perHost };
  },
};

function failed(vm: VmSpec, total: number, excluded: number, misses: Map<FilterName, FitFailure[]>): Decision {
  const { summary, detail } = summarizeFailures(vm.name, total, excluded, misses);
  return { kind: 'failed', summary, detail };
}
