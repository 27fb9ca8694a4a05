import { modelV1, schedulerV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { outcomeLabel } from '../render/labels.ts';
import { keyValue, section, table } from '../render/table.ts';
import { buildVmSpec, VM_SPEC_OPTIONS, vmSpecFromJson } from '../spec/vm-spec.ts';
import { int } from '../values.ts';
import type { CommandSpec, Input, Context } from './types.ts';

function parseJson(text: string): unknown {
  if (text === '') return null;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

interface Candidate {
  readonly hostId: string;
  readonly score?: number;
  readonly breakdown?: { readonly cost?: { readonly costFunction?: string; readonly total?: number } };
}

/** The chosen host and runners-up of an explanation, when it lists them (`chosen` + `runnersUp`). */
export function candidates(explanation: unknown): string | undefined {
  if (typeof explanation !== 'object' || explanation === null) return undefined;
  const e = explanation as { chosen?: unknown; runnersUp?: unknown; alternates?: unknown };
  const others = Array.isArray(e.runnersUp) ? (e.runnersUp as unknown[]) : Array.isArray(e.alternates) ? (e.alternates as unknown[]) : [];
  const list = [e.chosen, ...others].filter(
    (c): c is Candidate => typeof c === 'object' && c !== null && typeof (c as { hostId?: unknown }).hostId === 'string',
  );
  if (list.length === 0) return undefined;
  const num = (n: unknown) => (typeof n === 'number' ? String(Math.round(n * 100) / 100) : '');
  return table(
    ['RANK', 'HOST', 'SCORE', 'COST', 'COST FUNCTION'],
    list.map((c, i) => [String(i + 1), c.hostId, num(c.score), num(c.breakdown?.cost?.total), c.breakdown?.cost?.costFunction ?? '']),
  );
}

async function specFrom(input: Input, ctx: Context): Promise<modelV1.VmSpec> {
  const file = input.string('spec');
  const base = file === undefined ? undefined : vmSpecFromJson(await ctx.readFile(file), file);
  return buildVmSpec(input.string('name') ?? 'this VM', input, base);
}

const SPEC_OPTIONS = { ...VM_SPEC_OPTIONS, name: { type: 'string' as const, value: 'NAME', help: 'name used in explanations' } };

export const schedulerCommands: readonly CommandSpec[] = [
  {
    words: ['explain'],
    args: ['VM'],
    summary: 'why a VM was placed where it is, or why it fits nowhere',
    options: { detail: { type: 'boolean', help: 'print the full decision (breakdowns, per-filter counts)' } },
    async run(input, ctx) {
      const res = await unary(ctx.backends.scheduler(), 'explain', { vmId: input.arg('VM') }, ctx.timeoutMillis);
      const explanation = parseJson(res.explanationJson);
      const parts = [
        keyValue([
          ['vm', res.vmId],
          ['outcome', outcomeLabel(res.outcome)],
          ['host', res.hostId],
          ['source', res.source],
        ]),
        '',
        res.summary,
      ];
      const ranked = candidates(explanation);
      if (ranked) parts.push(section('Candidates', ranked));
      if (input.flag('detail') && explanation !== null) parts.push(section('Decision', JSON.stringify(explanation, null, 2)));
      return { json: { ...(schedulerV1.ExplainResponse.toJSON(res) as object), explanation }, text: parts.join('\n') };
    },
  },
  {
    words: ['what-if'],
    args: [],
    summary: 'how many more VMs of this shape fit, in total and per host',
    options: { ...SPEC_OPTIONS, host: { type: 'string', multiple: true, value: 'HOST', help: 'only these hosts (repeatable)' } },
    async run(input, ctx) {
      const request = { vm: await specFrom(input, ctx), hostIds: input.list('host') };
      const res = await unary(ctx.backends.scheduler(), 'whatIf', request, ctx.timeoutMillis);
      const rows = table(
        ['HOST', 'NAME', 'FITS'],
        res.hosts.map((h) => [h.hostId, h.hostName, String(h.count)]),
      );
      return { json: schedulerV1.WhatIfResponse.toJSON(res), text: `${res.total} more fit in total\n\n${rows}` };
    },
  },
  {
    words: ['score'],
    args: [],
    summary: 'rank the hosts that can take a VM of this shape, best first',
    options: {
      ...SPEC_OPTIONS,
      exclude: { type: 'string', multiple: true, value: 'HOST', help: 'leave this host out (repeatable)' },
      limit: { type: 'string', value: 'N', help: 'most hosts to show (default 10)' },
    },
    async run(input, ctx) {
      const limit = int(input.string('limit') ?? '0', '--limit', 0, 1000);
      const request = { vm: await specFrom(input, ctx), excludedHosts: input.list('exclude'), limit, vmId: '' };
      const res = await unary(ctx.backends.scheduler(), 'score', request, ctx.timeoutMillis);
      const rows = table(
        ['RANK', 'HOST', 'NAME', 'SCORE', 'GEN'],
        res.hosts.map((h, i) => [String(i + 1), h.hostId, h.hostName, h.score.toFixed(2), String(h.generation)]),
      );
      const head = `${res.fits ? 'fits' : 'fits nowhere'} (${res.hostsConsidered} hosts considered)${res.summary ? `: ${res.summary}` : ''}`;
      return {
        json: { ...(schedulerV1.ScoreResponse.toJSON(res) as object), explanation: parseJson(res.explanationJson) },
        text: `${head}\n\n${rows}`,
      };
    },
  },
];
