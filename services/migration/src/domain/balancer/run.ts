import { applyClaim, fits, releaseClaim, type HostSnapshot } from '@berth/fit';
import { allocationLoad } from '../evacuation/plan.ts';
import type { BalancedVm, BalancerInput, BalancerRun, CandidateRecord, HostReading, Load, ProposedMove } from './model.ts';

/** Sources examined per evaluation (the most over-, or under-, utilised first). */
const MAX_SOURCES = 8;
/** Destinations that fit examined per VM (the best-placed first). */
const MAX_DESTINATIONS = 8;

const bottleneck = (l: Load): number => (l.cpu > l.memory ? l.cpu : l.memory);
const pct = (x: number): string => `${Math.round(x * 1000) / 10}%`;

interface HostState {
  snap: HostSnapshot;
  readonly initial: Load;
  readonly measured: Load | undefined;
  readonly window: readonly number[];
}

interface Candidate {
  readonly vm: BalancedVm;
  readonly from: string;
  readonly to: string;
  readonly snapTo: HostSnapshot;
  readonly claim: ProposedMove['claim'];
  readonly before: { from: number; to: number };
  readonly after: { from: number; to: number };
  readonly improvement: number;
}

/**
 * One balancer run over one resource pool: which VMs to move where, and a record of why (and why
 * not the rest). Pure: loads, cooldowns, clock and the moves already made this interval come in.
 *
 * spread (oVirt evenly-distributed): sources are hosts above the high threshold for the whole window;
 * a move must keep the destination at or below high, lower the pool's sum of squared loads, and
 * shrink the gap between the two hosts by at least `minImprovement` — so a move that barely helps,
 * or overshoots so that moving back would look good, is never proposed.
 * pack (oVirt power saving): sources are non-empty hosts below the low threshold for the whole window;
 * a move goes to the fullest host that stays at or below high and is at least `minImprovement` fuller
 * than the source (the reverse move can then never qualify).
 * Both strictly move a potential (the sum of squared loads) one way, so repeated runs settle.
 */
export function balance(input: BalancerInput): BalancerRun {
  const { policy, now } = input;
  const trigger = input.trigger ?? 'interval';
  const pressure = trigger === 'pressure';
  const pressured = input.pressured ?? new Set<string>();
  const base = { pool: policy.pool, mode: policy.mode, at: now, source: input.source, trigger, policy };
  const state = new Map<string, HostState>();
  const since = now - policy.windowSeconds * 1000;
  for (const snap of input.hosts) {
    if (snap.capacity.resourcePool !== policy.pool) continue;
    const hist = input.history(snap.capacity.hostId);
    const inWindow = hist.filter((s) => s.at >= since);
    const last = hist[hist.length - 1];
    const measured = input.source === 'measured' && last ? { cpu: last.cpu, memory: last.memory } : undefined;
    state.set(snap.capacity.hostId, { snap, initial: allocationLoad(snap), measured, window: inWindow.map(bottleneck) });
  }
  const loadOf = (h: HostState): Load => {
    const a = allocationLoad(h.snap);
    return h.measured ? { cpu: h.measured.cpu + a.cpu - h.initial.cpu, memory: h.measured.memory + a.memory - h.initial.memory } : a;
  };
  const vms = new Map(input.vms.map((v) => [v.spec.vmId, { ...v }]));
  const moved = new Set<string>();

  const reading = (h: HostState): HostReading => {
    const c = h.snap.capacity;
    const load = loadOf(h);
    const b = bottleneck(load);
    const common = {
      hostId: c.hostId,
      name: c.name,
      load,
      bottleneck: b,
      samplesInWindow: h.window.length,
      ...(h.window.length > 0 && { windowMin: Math.min(...h.window), windowMax: Math.max(...h.window) }),
      measured: h.measured !== undefined,
    };
    if (c.state !== 'enabled') return { ...common, role: 'excluded', note: `host is ${c.state}` };
    if (pressure) {
      return pressured.has(c.hostId)
        ? { ...common, role: 'over', note: `under memory pressure (${pct(load.memory)} measured)` }
        : { ...common, role: 'normal', note: `not under pressure (${pct(load.memory)} memory)` };
    }
    const all = [...h.window, b];
    if (all.every((x) => x > policy.highThreshold))
      return { ...common, role: 'over', note: `above ${pct(policy.highThreshold)} over the window` };
    if (all.every((x) => x < policy.lowThreshold))
      return { ...common, role: 'under', note: h.snap.claims.length === 0 ? 'empty' : `below ${pct(policy.lowThreshold)} over the window` };
    return { ...common, role: 'normal', note: 'within thresholds' };
  };

  if (policy.mode === 'off' && !pressure) {
    return {
      ...base,
      hosts: [...state.values()].map(reading).map((r) => ({ ...r, predicted: r.bottleneck })),
      candidates: [],
      moves: [],
      summary: `balancing is off for pool ${policy.pool}`,
    };
  }
  // A pressure pass relieves the hosts under pressure as spread relieves hosts above high, whatever the mode.
  const spread = policy.mode === 'spread' || pressure;

  /** Why a running VM on a source host stays put, or undefined if it may move. */
  const skip = (vm: BalancedVm | undefined): string | undefined => {
    if (!vm) return 'unknown to the balancer (no VM record)';
    if (moved.has(vm.spec.vmId)) return 'moved in this run';
    if (vm.migrating) return 'already migrating';
    if (!vm.running) return 'not running';
    if (vm.spec.migrationMode !== 'manual-and-automatic')
      return `migration mode ${vm.spec.migrationMode}: the balancer moves manual-and-automatic VMs only`;
    if (vm.lastMovedAt !== undefined && now < vm.lastMovedAt + policy.cooldownSeconds * 1000) {
      return `cooldown: moved by the balancer at ${new Date(vm.lastMovedAt).toISOString()}, not again before ${new Date(vm.lastMovedAt + policy.cooldownSeconds * 1000).toISOString()}`;
    }
    return undefined;
  };

  const judge = (
    vm: BalancedVm,
    src: HostState,
    dst: HostState,
    claim: ProposedMove['claim'],
  ): { c: Candidate } | { reason: string; before: Candidate['before']; after: Candidate['after'] } => {
    const ls = bottleneck(loadOf(src));
    const ld = bottleneck(loadOf(dst));
    const snapTo = applyClaim(dst.snap, claim);
    const ls2 = bottleneck(loadOf({ ...src, snap: releaseClaim(src.snap, vm.spec.vmId) }));
    const ld2 = bottleneck(loadOf({ ...dst, snap: snapTo }));
    const before = { from: ls, to: ld };
    const after = { from: ls2, to: ld2 };
    if (ld2 > policy.highThreshold)
      return { reason: `destination would reach ${pct(ld2)}, above the high threshold ${pct(policy.highThreshold)}`, before, after };
    if (pressure) {
      const md2 = loadOf({ ...dst, snap: snapTo }).memory;
      if (md2 >= policy.pressureClearThreshold)
        return {
          reason: `destination memory would reach ${pct(md2)}, not below the pressure clear threshold ${pct(policy.pressureClearThreshold)}`,
          before,
          after,
        };
    }
    const potential = ls2 * ls2 + ld2 * ld2 - ls * ls - ld * ld;
    let improvement: number;
    if (pressure) {
      // Relief of the host under pressure, in its own load: one VM is a small share of a host, so the
      // pair's gap rule would refuse every single move. No ping-pong comes from the destination staying
      // below the clear threshold (it can never be under pressure because of the move) and from the
      // potential falling.
      if (!(ld2 < ls2)) return { reason: 'destination would end more loaded than the source', before, after };
      if (!(potential < 0)) return { reason: 'would not make the pool more even', before, after };
      return {
        c: { vm, from: src.snap.capacity.hostId, to: dst.snap.capacity.hostId, snapTo, claim, before, after, improvement: ls - ls2 },
      };
    }
    if (spread) {
      const gap = ls - ld;
      if (gap <= 0) return { reason: 'destination is not less loaded than the source', before, after };
      improvement = 1 - Math.abs(ls2 - ld2) / gap;
      if (!(potential < 0)) return { reason: 'would not make the pool more even', before, after };
    } else {
      improvement = ld - ls;
      if (!(potential > 0)) return { reason: 'would not consolidate the pool', before, after };
    }
    if (improvement < policy.minImprovement) {
      return { reason: `predicted improvement ${pct(improvement)} is below the minimum ${pct(policy.minImprovement)}`, before, after };
    }
    return { c: { vm, from: src.snap.capacity.hostId, to: dst.snap.capacity.hostId, snapTo, claim, before, after, improvement } };
  };

  const better = (a: Candidate, b: Candidate | undefined): boolean =>
    !b ||
    a.improvement > b.improvement ||
    (a.improvement === b.improvement && (a.vm.spec.vmId < b.vm.spec.vmId || (a.vm.spec.vmId === b.vm.spec.vmId && a.to < b.to)));

  const evaluate = (): { best: Candidate | undefined; records: CandidateRecord[] } => {
    const readings = new Map([...state.values()].map((h) => [h.snap.capacity.hostId, reading(h)]));
    const wanted = spread ? 'over' : 'under';
    const sources = [...readings.values()]
      .filter((r) => r.role === wanted && state.get(r.hostId)!.snap.claims.length > 0)
      .sort((a, b) => (spread ? b.bottleneck - a.bottleneck : a.bottleneck - b.bottleneck) || (a.hostId < b.hostId ? -1 : 1))
      .slice(0, MAX_SOURCES);
    const dests = [...readings.values()]
      .filter((r) => r.role !== 'excluded')
      .sort((a, b) => (spread ? a.bottleneck - b.bottleneck : b.bottleneck - a.bottleneck) || (a.hostId < b.hostId ? -1 : 1));
    let best: Candidate | undefined;
    const records: CandidateRecord[] = [];
    for (const s of sources) {
      const src = state.get(s.hostId)!;
      for (const claim of src.snap.claims) {
        const vm = vms.get(claim.vmId);
        const name = vm?.spec.name ?? claim.vmId;
        const why = skip(vm);
        if (why !== undefined || !vm) {
          records.push({ vmId: claim.vmId, vmName: name, from: s.hostId, verdict: 'skipped', reason: why ?? 'unknown' });
          continue;
        }
        let examined = 0;
        let noFit = 0;
        let vmBest: Candidate | undefined;
        let firstRejection: CandidateRecord | undefined;
        for (const d of dests) {
          if (d.hostId === s.hostId || examined >= MAX_DESTINATIONS) continue;
          const dst = state.get(d.hostId)!;
          const f = fits(dst.snap, vm.spec);
          if (!f.ok) {
            noFit++;
            continue;
          }
          examined++;
          const j = judge(vm, src, dst, f.claim);
          if ('c' in j) {
            if (better(j.c, vmBest)) vmBest = j.c;
          } else if (!firstRejection) {
            firstRejection = {
              vmId: vm.spec.vmId,
              vmName: name,
              from: s.hostId,
              to: d.hostId,
              before: j.before,
              after: j.after,
              verdict: 'rejected',
              reason: j.reason,
            };
          }
        }
        if (vmBest) {
          records.push({
            vmId: vm.spec.vmId,
            vmName: name,
            from: s.hostId,
            to: vmBest.to,
            before: vmBest.before,
            after: vmBest.after,
            improvement: vmBest.improvement,
            verdict: 'rejected',
            reason: 'a better move was chosen',
          });
          if (better(vmBest, best)) best = vmBest;
        } else if (firstRejection) {
          records.push(firstRejection);
        } else {
          records.push({
            vmId: vm.spec.vmId,
            vmName: name,
            from: s.hostId,
            verdict: 'rejected',
            reason: `no other host in the pool fits it (${noFit} do not fit)`,
          });
        }
      }
    }
    return { best, records };
  };

  const allowed = Math.max(0, policy.maxMovesPerInterval - input.movesThisInterval);
  const moves: ProposedMove[] = [];
  const initialReadings = [...state.values()].map(reading);
  let last = evaluate();
  const firstRecords = last.records;
  // Bounded for safety; the potential argument already guarantees an end.
  while (last.best && moves.length < allowed && moves.length < input.vms.length + 1) {
    const c = last.best;
    const src = state.get(c.from)!;
    const dst = state.get(c.to)!;
    src.snap = releaseClaim(src.snap, c.vm.spec.vmId);
    dst.snap = c.snapTo;
    moved.add(c.vm.spec.vmId);
    vms.set(c.vm.spec.vmId, { ...c.vm, hostId: c.to, lastMovedAt: now });
    moves.push({
      vmId: c.vm.spec.vmId,
      vmName: c.vm.spec.name,
      from: c.from,
      to: c.to,
      claim: c.claim,
      destinationGeneration: c.snapTo.generation - 1,
      before: c.before,
      after: c.after,
      improvement: c.improvement,
      reason: pressure
        ? `${c.from} ${pct(c.before.from)} -> ${pct(c.after.from)} (under memory pressure), ${c.to} ${pct(c.before.to)} -> ${pct(c.after.to)}`
        : `${c.from} ${pct(c.before.from)} -> ${pct(c.after.from)}, ${c.to} ${pct(c.before.to)} -> ${pct(c.after.to)}; improvement ${pct(c.improvement)} (minimum ${pct(policy.minImprovement)})`,
    });
    last = evaluate();
  }
  const limitHit = last.best !== undefined;
  const rest = last.records
    .filter((r) => !moved.has(r.vmId))
    .map((r) =>
      r.reason === 'a better move was chosen'
        ? {
            ...r,
            reason: limitHit
              ? `qualifies, but the limit of ${policy.maxMovesPerInterval} move(s) per ${policy.intervalSeconds} s is reached`
              : r.reason,
          }
        : r,
    );
  // VMs of a host that was a source before the run's moves and no longer is: why they stay.
  const listed = new Set([...moved, ...rest.map((r) => r.vmId)]);
  const relieved = firstRecords
    .filter((r) => !listed.has(r.vmId))
    .map((r): CandidateRecord => {
      const h = state.get(r.from)!;
      const now = bottleneck(loadOf(h));
      return {
        vmId: r.vmId,
        vmName: r.vmName,
        from: r.from,
        verdict: r.verdict === 'skipped' ? 'skipped' : 'rejected',
        reason:
          r.verdict === 'skipped'
            ? r.reason
            : `after this run's moves its host ${r.from} is predicted at ${pct(now)}, no longer ${spread ? 'over' : 'under'}-utilised`,
      };
    });
  const candidates: CandidateRecord[] = [
    ...moves.map((m): CandidateRecord => ({
      vmId: m.vmId,
      vmName: m.vmName,
      from: m.from,
      to: m.to,
      before: m.before,
      after: m.after,
      improvement: m.improvement,
      verdict: 'moved',
      reason: m.reason,
    })),
    ...rest,
    ...relieved,
  ];
  const role = spread ? 'over' : 'under';
  const summary =
    moves.length > 0
      ? `${pressure ? 'pressure: ' : ''}moved ${moves.map((m) => `${m.vmName} from ${m.from} to ${m.to}`).join(', ')}`
      : limitHit
        ? `no move: the limit of ${policy.maxMovesPerInterval} move(s) per ${policy.intervalSeconds} s is reached`
        : initialReadings.some((r) => r.role === role && r.note !== 'empty')
          ? `no move: ${rest.length} candidate VM(s), none qualifies`
          : pressure
            ? 'no move: no host under memory pressure'
            : spread
              ? `no move: no host above ${pct(policy.highThreshold)} over the last ${policy.windowSeconds} s`
              : `no move: no non-empty host below ${pct(policy.lowThreshold)} over the last ${policy.windowSeconds} s`;
  // The predicted load of every host after the run's moves.
  const hosts = initialReadings.map((r) => ({ ...r, predicted: bottleneck(loadOf(state.get(r.hostId)!)) }));
  return { ...base, hosts, candidates, moves, summary };
}
