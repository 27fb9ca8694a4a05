import { setTimeout as sleep } from 'node:timers/promises';
import { migrationV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { formatBytes, table } from '../render/table.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec, type Context } from './types.ts';

type Plan = migrationV1.EvacuationPlan;
type Evacuation = migrationV1.Evacuation;

/** The plan as PlanEvacuation answers it: moves in start order, warnings, blockers with remedies. */
export function planText(p: Plan): string {
  const lines = [
    `drain ${p.hostId}: ${p.moves.length} to move (${formatBytes(p.totalMemoryBytes)}), ${p.blockers.length} blocked, ${p.concurrency} at once`,
  ];
  if (p.summary) lines.push(p.summary);
  if (p.moves.length > 0)
    lines.push(
      '',
      table(
        ['#', 'VM', 'PRIORITY', 'MEMORY', 'TO', 'REASON'],
        p.moves.map((m) => [String(m.order), m.vmId, String(m.priority), formatBytes(m.memoryBytes), m.destinationHostId || '-', m.reason]),
      ),
    );
  const warned = p.moves.filter((m) => m.warning !== '');
  if (warned.length > 0) lines.push('', ...warned.map((m) => `warning: ${m.vmId}: ${m.warning}`));
  if (p.blockers.length > 0) lines.push('', ...p.blockers.map((b) => `blocked: ${b.vmId}: ${b.reason}${b.remedy ? ` (${b.remedy})` : ''}`));
  return lines.join('\n');
}

/** Where a drain is: its status, each move, and why it waits (with the next retry). */
export function evacuationText(e: Evacuation): string {
  const lines = [`evacuation ${e.evacuationId} of ${e.hostId}: ${e.status} (host was ${e.previousHostState || '?'})`];
  if (e.moves.length > 0)
    lines.push(
      table(
        ['VM', 'STATUS', 'TO', 'MIGRATION', 'DETAIL'],
        e.moves.map((m) => [m.vmId, m.status, m.destinationHostId || '-', m.migrationId || '-', m.reason]),
      ),
    );
  if (e.blockedReason) lines.push(`waiting: ${e.blockedReason}${e.nextRetryAt ? `; next retry ${e.nextRetryAt}` : ''}`);
  return lines.join('\n');
}

const ENDED = new Set(['completed', 'cancelled']);
const evacuationJson = (e: Evacuation): unknown => migrationV1.Evacuation.toJSON(e);

/** Follows a drain until it completes or is cancelled, printing each change (per-VM progress). */
async function watch(hostId: string, ctx: Context, pollMillis = 1000): Promise<Evacuation> {
  let last = '';
  for (;;) {
    const e = (await unary(ctx.backends.migration(), 'getEvacuation', { hostId }, ctx.timeoutMillis)).evacuation!;
    const text = evacuationText(e);
    if (text !== last) ctx.progress(text);
    last = text;
    if (ENDED.has(e.status)) return e;
    await sleep(pollMillis);
  }
}

export const hostDrainCommands: readonly CommandSpec[] = [
  {
    words: ['hosts', 'drain'],
    args: ['HOST'],
    summary: 'empty a host for maintenance: shows the plan and runs it (--dry-run: the plan only; --watch: follow it to the end)',
    options: {
      'dry-run': { type: 'boolean', help: 'print the plan (destinations, order, warnings, blockers) and change nothing' },
      watch: { type: 'boolean', help: 'follow each VM until the drain completes or is cancelled' },
      reason: { type: 'string', value: 'TEXT', help: 'why (recorded)' },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const hostId = input.arg('HOST');
      const plan = (await unary(ctx.backends.migration(), 'planEvacuation', { hostId }, ctx.timeoutMillis)).plan!;
      if (input.flag('dry-run')) return { json: { plan: migrationV1.EvacuationPlan.toJSON(plan) }, text: planText(plan) };
      ctx.progress(planText(plan));
      const started = (
        await unary(
          ctx.backends.migration(),
          'startEvacuation',
          { meta: commandMeta(input, ctx), hostId, reason: input.string('reason') ?? 'berth hosts drain' },
          ctx.timeoutMillis,
        )
      ).evacuation!;
      const e = input.flag('watch') ? await watch(hostId, ctx) : started;
      return {
        json: { plan: migrationV1.EvacuationPlan.toJSON(plan), evacuation: evacuationJson(e) },
        text: evacuationText(e),
        exitCode: e.status === 'cancelled' ? 1 : 0,
      };
    },
  },
  {
    words: ['hosts', 'drain-status'],
    args: ['HOST'],
    summary: "a host's drain: each VM's move, and why it waits",
    options: {},
    async run(input, ctx) {
      const e = (await unary(ctx.backends.migration(), 'getEvacuation', { hostId: input.arg('HOST') }, ctx.timeoutMillis)).evacuation!;
      return { json: evacuationJson(e), text: evacuationText(e) };
    },
  },
  {
    words: ['hosts', 'drain-cancel'],
    args: ['HOST'],
    summary: 'stop a drain: no new moves; running ones finish (or are aborted with --abort); the host goes back to its state',
    options: { abort: { type: 'boolean', help: 'abort the migrations under way (the VMs stay on the host)' }, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const e = (
        await unary(
          ctx.backends.migration(),
          'cancelEvacuation',
          { meta: commandMeta(input, ctx), hostId: input.arg('HOST'), abortRunning: input.flag('abort') },
          ctx.timeoutMillis,
        )
      ).evacuation!;
      return { json: evacuationJson(e), text: evacuationText(e) };
    },
  },
];
