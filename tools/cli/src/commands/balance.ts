import { migrationV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { UsageError } from '../errors.ts';
import { table } from '../render/table.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec } from './types.ts';

const MODES: Record<string, migrationV1.BalancerMode> = {
  off: migrationV1.BalancerMode.BALANCER_MODE_OFF,
  pack: migrationV1.BalancerMode.BALANCER_MODE_PACK,
  spread: migrationV1.BalancerMode.BALANCER_MODE_SPREAD,
};
const modeName = (m: migrationV1.BalancerMode): string => Object.entries(MODES).find(([, v]) => v === m)?.[0] ?? 'unspecified';

const POOL_OPTION = { pool: { type: 'string', value: 'POOL', help: 'resource pool (default: default)' } } as const;

export function policyText(p: migrationV1.BalancerPolicy): string {
  return (
    `pool ${p.resourcePool}: ${modeName(p.mode)}; high ${p.highThresholdPercent}%, low ${p.lowThresholdPercent}%, ` +
    `at most ${p.maxMigrationsPerInterval} move(s) per ${p.intervalSeconds} s, improvement >= ${p.minImprovementPercent}%, ` +
    `cooldown ${p.cooldownSeconds} s, window ${p.windowSeconds ?? '-'} s; pressure trigger ` +
    (p.pressureThresholdPercent
      ? `above ${p.pressureThresholdPercent}% measured memory, clear below ${p.pressureClearThresholdPercent}%`
      : 'off')
  );
}

export function dryRunText(r: migrationV1.BalancerDryRunResponse): string {
  const lines = [r.summary];
  if (r.moves.length > 0)
    lines.push(
      table(
        ['VM', 'FROM', 'TO', 'IMPROVEMENT', 'REASON'],
        r.moves.map((m) => [
          m.migrationId ? `${m.vmId} (${m.migrationId})` : m.vmId,
          m.fromHostId,
          m.toHostId,
          `${m.predictedImprovementPercent}%`,
          m.reason,
        ]),
      ),
    );
  return lines.join('\n');
}

const pc = (x: number | undefined): string => (x === undefined ? '-' : `${Math.round(x * 10) / 10}%`);

/**
 * A balancer run, recorded or dry: its policy (mode and thresholds), each host's load, window, role
 * and predicted load after the moves, and every candidate with its verdict, loads before and after, and why.
 */
export function runText(r: migrationV1.BalancerRun): string {
  const head = r.runId ? `run ${r.runId} at ${r.at} (${r.trigger})` : `dry run at ${r.at} (${r.trigger})`;
  const parts = [
    `${head}: ${r.summary}`,
    r.policy ? policyText(r.policy) : 'policy and inputs not recorded (a run recorded before schema 2)',
  ];
  if (r.source) parts.push(`load: ${r.source}`);
  if (r.repeats > 0) parts.push(`repeated ${r.repeats} time(s) since with the same inputs and outcome, the last at ${r.lastRepeatedAt}`);
  if (r.hosts.length > 0)
    parts.push(
      'hosts:',
      table(
        ['HOST', 'LOAD', 'CPU', 'MEMORY', 'WINDOW', 'ROLE', 'PREDICTED', 'WHY'],
        r.hosts.map((h) => [
          h.hostId,
          pc(h.loadPercent),
          pc(h.cpuPercent),
          pc(h.memoryPercent) + (h.measured ? ' (measured)' : ''),
          h.samplesInWindow > 0 ? `${h.samplesInWindow}: ${pc(h.windowMinPercent)}-${pc(h.windowMaxPercent)}` : '0',
          h.role,
          pc(h.predictedLoadPercent),
          h.note,
        ]),
      ),
    );
  if (r.candidates.length > 0)
    parts.push(
      'candidates:',
      table(
        ['VM', 'FROM', 'TO', 'BEFORE', 'AFTER', 'IMPROVEMENT', 'VERDICT', 'WHY'],
        r.candidates.map((c) => [
          c.migrationId ? `${c.vmId} (${c.migrationId})` : c.vmId,
          c.fromHostId,
          c.toHostId || '-',
          c.fromLoadPercent === undefined ? '-' : `${pc(c.fromLoadPercent)}/${pc(c.toLoadPercent)}`,
          c.fromLoadAfterPercent === undefined ? '-' : `${pc(c.fromLoadAfterPercent)}/${pc(c.toLoadAfterPercent)}`,
          pc(c.improvementPercent),
          c.verdict,
          c.reason,
        ]),
      ),
    );
  return parts.join('\n');
}

async function dryRun(pool: string, ctx: Parameters<CommandSpec['run']>[1]) {
  return unary(ctx.backends.migration(), 'balancerDryRun', { resourcePool: pool }, ctx.timeoutMillis);
}

export const balanceCommands: readonly CommandSpec[] = [
  // Longer words first: the CLI takes the first command whose words lead the arguments.
  {
    words: ['balance', 'explain'],
    args: [],
    variadic: true,
    summary:
      'why a recorded balancer run (RUN_ID, default: the latest of --pool) moved what it moved and nothing else: inputs, thresholds, candidates, predicted loads',
    options: { ...POOL_OPTION },
    async run(input, ctx) {
      if (input.rest.length > 1) throw new UsageError('RUN_ID', `one run id at most, got ${input.rest.length}`);
      const r = await unary(
        ctx.backends.migration(),
        'explainBalancerRun',
        { resourcePool: input.string('pool') ?? 'default', runId: input.rest[0] ?? '' },
        ctx.timeoutMillis,
      );
      // The latest run comes with the pool now: passes since that recorded nothing of their own (mode off, repeats).
      const json = migrationV1.BalancerRun.toJSON(r.run!) as Record<string, unknown>;
      return {
        json: r.now ? { ...json, now: migrationV1.BalancerPoolNow.toJSON(r.now) } : json,
        text: r.now ? `${runText(r.run!)}\nnow: ${r.now.summary}` : runText(r.run!),
      };
    },
  },
  {
    words: ['balance', 'policy'],
    args: [],
    summary:
      "show or change a pool's balancer policy (--mode off|pack|spread, --high, --low, --interval, --max-moves, --min-improvement, --cooldown, --window, --pressure, --pressure-clear)",
    options: {
      ...POOL_OPTION,
      mode: { type: 'string', value: 'off|pack|spread', help: 'balancing mode' },
      high: { type: 'string', value: 'PERCENT', help: 'high threshold' },
      low: { type: 'string', value: 'PERCENT', help: 'low threshold' },
      interval: { type: 'string', value: 'SECONDS', help: 'seconds between runs' },
      'max-moves': { type: 'string', value: 'N', help: 'moves per run' },
      'min-improvement': { type: 'string', value: 'PERCENT', help: 'smallest improvement a move must bring' },
      cooldown: { type: 'string', value: 'SECONDS', help: 'a moved VM stays put this long' },
      window: { type: 'string', value: 'SECONDS', help: 'a threshold (and pressure) must hold this long' },
      pressure: { type: 'string', value: 'PERCENT', help: 'measured memory use that starts a pressure pass (0: off)' },
      'pressure-clear': { type: 'string', value: 'PERCENT', help: 'a host leaves pressure below this' },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const pool = input.string('pool') ?? 'default';
      const num = (name: string): number => {
        const v = input.string(name);
        if (v === undefined) return 0;
        if (!/^\d+$/.test(v)) throw new UsageError(`--${name}`, `must be a whole number, got "${v}"`);
        return Number(v);
      };
      const mode = input.string('mode');
      if (mode !== undefined && MODES[mode] === undefined) throw new UsageError('--mode', `expected off, pack or spread, got "${mode}"`);
      const changes = migrationV1.BalancerPolicy.fromPartial({
        resourcePool: pool,
        ...(mode !== undefined && { mode: MODES[mode] }),
        highThresholdPercent: num('high'),
        lowThresholdPercent: num('low'),
        intervalSeconds: num('interval'),
        maxMigrationsPerInterval: num('max-moves'),
        minImprovementPercent: num('min-improvement'),
        cooldownSeconds: num('cooldown'),
        // Optional on the wire: absent keeps the pool's value, so 0 can mean off.
        ...(input.string('window') !== undefined && { windowSeconds: num('window') }),
        ...(input.string('pressure') !== undefined && { pressureThresholdPercent: num('pressure') }),
        ...(input.string('pressure-clear') !== undefined && { pressureClearThresholdPercent: num('pressure-clear') }),
      });
      const changing =
        mode !== undefined ||
        ['high', 'low', 'interval', 'max-moves', 'min-improvement', 'cooldown', 'window', 'pressure', 'pressure-clear'].some(
          (o) => input.string(o) !== undefined,
        );
      const policy = changing
        ? (
            await unary(
              ctx.backends.migration(),
              'setBalancerPolicy',
              { meta: commandMeta(input, ctx), policy: changes },
              ctx.timeoutMillis,
            )
          ).policy!
        : (await unary(ctx.backends.migration(), 'getBalancerPolicy', { resourcePool: pool }, ctx.timeoutMillis)).policy!;
      return { json: migrationV1.BalancerPolicy.toJSON(policy), text: policyText(policy) };
    },
  },
  {
    words: ['balance'],
    args: [],
    summary: "the balancer: its policy and what a run would move now (--dry-run), or run it now (--now); runs happen every pool's interval",
    options: {
      ...POOL_OPTION,
      'dry-run': { type: 'boolean', help: 'what a run would move now, changing nothing' },
      now: { type: 'boolean', help: "run the pool's balancer now and start its moves" },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const pool = input.string('pool') ?? 'default';
      if (input.flag('now')) {
        if (input.flag('dry-run')) throw new UsageError('--now', 'cannot be combined with --dry-run');
        const r = await unary(
          ctx.backends.migration(),
          'balancerRunNow',
          { meta: commandMeta(input, ctx), resourcePool: pool },
          ctx.timeoutMillis,
        );
        return { json: migrationV1.BalancerRunNowResponse.toJSON(r), text: r.run ? runText(r.run) : dryRunText(r) };
      }
      const policy = (await unary(ctx.backends.migration(), 'getBalancerPolicy', { resourcePool: pool }, ctx.timeoutMillis)).policy!;
      const r = await dryRun(pool, ctx);
      return {
        json: { policy: migrationV1.BalancerPolicy.toJSON(policy), dryRun: migrationV1.BalancerDryRunResponse.toJSON(r) },
        // --dry-run: the run as it would be recorded, as `berth balance explain` shows a recorded one.
        text: input.flag('dry-run') && r.run ? `${policyText(policy)}\n${runText(r.run)}` : `${policyText(policy)}\n${dryRunText(r)}`,
      };
    },
  },
];
