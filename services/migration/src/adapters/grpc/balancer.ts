/** Balancer RPCs: thin handlers over BalancerService (decode, ask, encode). Percentages on the wire, fractions inside. */
import { migrationV1 as pb } from '@berth/contracts';
import { unary } from '@berth/grpc-kit';
import { recordedRun, type BalancerService, type ExplainedRun, type PoolNow, type StartedRun } from '../../application/balancer.ts';
import type { RecordedRun } from '../../domain/balancer/log.ts';
import type { BalancerMode, BalancerPolicy, BalancerRun } from '../../domain/balancer/index.ts';
import { commandIdOf } from './migrations.ts';
import { unimplementedUnary } from './unimplemented.ts';

export type BalancerHandlers = Pick<
  pb.MigrationServiceServer,
  'getBalancerPolicy' | 'setBalancerPolicy' | 'balancerDryRun' | 'balancerRunNow' | 'explainBalancerRun'
>;

const MODE: Record<BalancerMode, pb.BalancerMode> = {
  off: pb.BalancerMode.BALANCER_MODE_OFF,
  pack: pb.BalancerMode.BALANCER_MODE_PACK,
  spread: pb.BalancerMode.BALANCER_MODE_SPREAD,
};

export function encodePolicy(p: BalancerPolicy): pb.BalancerPolicy {
  return {
    resourcePool: p.pool,
    mode: MODE[p.mode],
    highThresholdPercent: Math.round(p.highThreshold * 100),
    lowThresholdPercent: Math.round(p.lowThreshold * 100),
    maxMigrationsPerInterval: p.maxMovesPerInterval,
    intervalSeconds: p.intervalSeconds,
    minImprovementPercent: Math.round(p.minImprovement * 100),
    cooldownSeconds: p.cooldownSeconds,
    pressureThresholdPercent: Math.round(p.pressureThreshold * 100),
    pressureClearThresholdPercent: Math.round(p.pressureClearThreshold * 100),
    windowSeconds: p.windowSeconds,
  };
}

/**
 * The policy asked for; fields left 0 (unset) take the pool's current value, the optional ones
 * (pressure thresholds, window) when absent, so 0 can turn the pressure trigger off. An unknown
 * mode is named by validation.
 */
export function decodePolicy(p: pb.BalancerPolicy, current: BalancerPolicy): BalancerPolicy {
  const mode = (Object.entries(MODE).find(([, v]) => v === p.mode)?.[0] ??
    (p.mode === pb.BalancerMode.BALANCER_MODE_UNSPECIFIED ? current.mode : `#${p.mode}`)) as BalancerMode;
  const or = (v: number, d: number): number => (v === 0 ? d : v);
  return {
    pool: p.resourcePool,
    mode,
    highThreshold: or(p.highThresholdPercent, Math.round(current.highThreshold * 100)) / 100,
    lowThreshold: or(p.lowThresholdPercent, Math.round(current.lowThreshold * 100)) / 100,
    windowSeconds: p.windowSeconds ?? current.windowSeconds,
    maxMovesPerInterval: or(p.maxMigrationsPerInterval, current.maxMovesPerInterval),
    intervalSeconds: or(p.intervalSeconds, current.intervalSeconds),
    minImprovement: or(p.minImprovementPercent, Math.round(current.minImprovement * 100)) / 100,
    cooldownSeconds: or(p.cooldownSeconds, current.cooldownSeconds),
    pressureThreshold: (p.pressureThresholdPercent ?? Math.round(current.pressureThreshold * 100)) / 100,
    pressureClearThreshold: (p.pressureClearThresholdPercent ?? Math.round(current.pressureClearThreshold * 100)) / 100,
  };
}

const pct = (x: number): number => Math.round(x * 10_000) / 100;

/** A run as recorded (or as a dry run would record it), percentages on the wire. */
export function encodeRecordedRun(
  pool: string,
  run: RecordedRun,
  o: { runId?: string; repeats?: number; lastRepeatedAt?: string } = {},
): pb.BalancerRun {
  return {
    runId: o.runId ?? '',
    resourcePool: pool,
    at: run.at,
    trigger: run.trigger,
    source: run.source ?? '',
    ...(run.policy && { policy: encodePolicy(run.policy) }),
    hosts: run.hosts.map((h) => ({
      hostId: h.hostId,
      hostName: h.name,
      cpuPercent: pct(h.cpu),
      memoryPercent: pct(h.memory),
      loadPercent: pct(h.bottleneck),
      samplesInWindow: h.samplesInWindow,
      ...(h.windowMin !== undefined && { windowMinPercent: pct(h.windowMin) }),
      ...(h.windowMax !== undefined && { windowMaxPercent: pct(h.windowMax) }),
      measured: h.measured,
      role: h.role,
      note: h.note,
      predictedLoadPercent: pct(h.predicted),
    })),
    candidates: run.candidates.map((c) => ({
      vmId: c.vmId,
      vmName: c.vmName,
      fromHostId: c.from,
      toHostId: c.to ?? '',
      ...(c.before && { fromLoadPercent: pct(c.before.from), toLoadPercent: pct(c.before.to) }),
      ...(c.after && { fromLoadAfterPercent: pct(c.after.from), toLoadAfterPercent: pct(c.after.to) }),
      ...(c.improvement !== undefined && { improvementPercent: pct(c.improvement) }),
      verdict: c.verdict,
      reason: c.reason,
      migrationId: c.migrationId ?? '',
    })),
    moves: run.moves.map((m) => ({
      vmId: m.vmId,
      fromHostId: m.from,
      toHostId: m.to,
      predictedImprovementPercent: pct(m.improvement),
      reason: m.reason,
      migrationId: m.migrationId,
    })),
    summary: run.summary,
    repeats: o.repeats ?? 0,
    lastRepeatedAt: o.lastRepeatedAt ?? '',
  };
}

export const encodeExplained = (e: ExplainedRun): pb.BalancerRun =>
  encodeRecordedRun(e.pool, e.run, {
    runId: e.runId,
    repeats: e.repeats,
    ...(e.lastRepeatedAt !== undefined && { lastRepeatedAt: e.lastRepeatedAt }),
  });

export const encodePoolNow = (n: PoolNow): pb.BalancerPoolNow => ({
  mode: n.mode,
  policySetAt: n.policySetAt ?? '',
  lastPassAt: n.lastPass ? new Date(n.lastPass.at).toISOString() : '',
  lastPassTrigger: n.lastPass?.trigger ?? '',
  lastPassMoves: n.lastPass?.moves ?? 0,
  lastPassIsRun: n.lastPassIsRun,
  hostsUnderPressure: [...(n.lastPass?.underPressure ?? [])],
  nextPassAt: n.nextPassAt !== undefined ? new Date(n.nextPassAt).toISOString() : '',
  summary: n.summary,
});

/** The run as the dry run answers it; claims left out of the explanation (they are the scheduler's business). */
export function encodeRun(run: BalancerRun, started?: StartedRun): pb.BalancerDryRunResponse {
  const migrationIds = started?.migrationIds ?? new Map<string, string>();
  const recorded = started?.recorded ?? recordedRun(run, migrationIds, new Map());
  return {
    moves: run.moves.map((m) => ({
      vmId: m.vmId,
      fromHostId: m.from,
      toHostId: m.to,
      predictedImprovementPercent: Math.round(m.improvement * 1000) / 10,
      reason: m.reason,
      migrationId: migrationIds.get(m.vmId) ?? '',
    })),
    summary: run.summary,
    explanationJson: JSON.stringify({ ...run, moves: run.moves.map(({ claim: _claim, ...m }) => m) }),
    run: encodeRecordedRun(run.pool, recorded, started ? { runId: started.runId } : {}),
  };
}

export function balancerHandlers(balancer?: BalancerService): BalancerHandlers {
  if (!balancer)
    return {
      getBalancerPolicy: unimplementedUnary('GetBalancerPolicy'),
      setBalancerPolicy: unimplementedUnary('SetBalancerPolicy'),
      balancerDryRun: unimplementedUnary('BalancerDryRun'),
      balancerRunNow: unimplementedUnary('BalancerRunNow'),
      explainBalancerRun: unimplementedUnary('ExplainBalancerRun'),
    };
  return {
    getBalancerPolicy: unary<pb.GetBalancerPolicyRequest, pb.GetBalancerPolicyResponse>(async (r) => ({
      policy: encodePolicy(await balancer.getPolicy(r.resourcePool || 'default')),
    })),
    setBalancerPolicy: unary<pb.SetBalancerPolicyRequest, pb.SetBalancerPolicyResponse>(async (r) => {
      const commandId = commandIdOf(r.meta);
      const asked = pb.BalancerPolicy.fromPartial(r.policy ?? {});
      const pool = asked.resourcePool || 'default';
      const current = await balancer.getPolicy(pool);
      const policy = await balancer.setPolicy(decodePolicy({ ...asked, resourcePool: pool }, current), commandId);
      return { policy: encodePolicy(policy) };
    }),
    balancerDryRun: unary<pb.BalancerDryRunRequest, pb.BalancerDryRunResponse>(async (r) =>
      encodeRun(await balancer.dryRun(r.resourcePool || 'default')),
    ),
    balancerRunNow: unary<pb.BalancerRunNowRequest, pb.BalancerRunNowResponse>(async (r) => {
      const started = await balancer.runNow(r.resourcePool || 'default', commandIdOf(r.meta));
      return encodeRun(started.run, started);
    }),
    explainBalancerRun: unary<pb.ExplainBalancerRunRequest, pb.ExplainBalancerRunResponse>(async (r) => {
      const e = await balancer.explain(r.resourcePool || 'default', r.runId);
      return { run: encodeExplained(e), ...(e.now && { now: encodePoolNow(e.now) }) };
    }),
  };
}
