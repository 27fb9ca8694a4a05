import { telemetryV1 } from '@berth/contracts';
import { loadPolicySet, PolicyError } from '@berth/mom-policy';
import { UsageError } from '../errors.ts';
import { unary } from '../grpc.ts';
import { keyValue, table } from '../render/table.ts';
import { readPolicies } from './policy.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec, type Context } from './types.ts';

const telemetry = (ctx: Context): telemetryV1.TelemetryServiceClient => {
  const t = ctx.backends.telemetry?.();
  if (!t) throw new UsageError('--telemetry', 'no telemetry endpoint configured');
  return t;
};

const SCOPE_OPTIONS = {
  pool: { type: 'string' as const, value: 'POOL', help: 'the policy set of a resource pool' },
  host: { type: 'string' as const, value: 'HOST', help: 'the policy set of one host' },
};

function scopeOf(host: string | undefined, pool: string | undefined): string {
  if (host !== undefined && pool !== undefined) throw new UsageError('--host', 'give --host or --pool, not both');
  return host !== undefined ? `host:${host}` : pool !== undefined ? `pool:${pool}` : 'default';
}

const describeSet = (p: telemetryV1.PolicySet | undefined): string =>
  p === undefined
    ? 'no policy set'
    : keyValue([
        ['scope', p.scope],
        ['version', String(p.version)],
        ['source', p.source],
        ['applied', p.appliedAt],
        ['digest', p.digest.slice(0, 16)],
        ['files', p.files.map((f) => f.name).join(', ')],
      ]);

/** `berth policy apply|show|replay`: telemetry's policy sets and recorded decisions. */
export const policyServiceCommands: readonly CommandSpec[] = [
  {
    words: ['policy', 'apply'],
    args: ['DIR'],
    variadic: true,
    summary: 'validate MOM policy files (a directory or files) and make them the policy set of a scope (default, --pool or --host)',
    options: { ...SCOPE_OPTIONS, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const files = await readPolicies([input.arg('DIR'), ...input.rest], ctx);
      if (files.length === 0) throw new UsageError('DIR', 'no *.policy files there');
      // Checked here first (file and line), and again by the service, which records nothing that does not parse.
      try {
        loadPolicySet(files);
      } catch (e) {
        if (e instanceof PolicyError) throw new UsageError('DIR', e.message);
        throw e;
      }
      const res = await unary(
        telemetry(ctx),
        'applyPolicy',
        {
          meta: commandMeta(input, ctx),
          scope: scopeOf(input.string('host'), input.string('pool')),
          files,
        },
        ctx.timeoutMillis,
      );
      return { json: telemetryV1.ApplyPolicyResponse.toJSON(res), text: describeSet(res.policy) };
    },
  },
  {
    words: ['policy', 'show'],
    args: [],
    summary: 'the policy set of a scope (default, --pool, --host), or with --resolve HOST the one that host uses',
    options: {
      ...SCOPE_OPTIONS,
      resolve: { type: 'string', value: 'HOST', help: 'the set a host resolves to (host, then pool, then default)' },
      text: { type: 'boolean', help: 'print the files too' },
    },
    async run(input, ctx) {
      const host = input.string('resolve');
      const res = await unary(
        telemetry(ctx),
        'showPolicy',
        host !== undefined ? { scope: '', hostId: host } : { scope: scopeOf(input.string('host'), input.string('pool')), hostId: '' },
        ctx.timeoutMillis,
      );
      const parts = [describeSet(res.policy), `scopes: ${res.scopes.join(', ')}`];
      if (input.flag('text')) for (const f of res.policy?.files ?? []) parts.push('', `;; ${f.name}`, f.text);
      return { json: telemetryV1.ShowPolicyResponse.toJSON(res), text: parts.join('\n') };
    },
  },
  {
    words: ['policy', 'decisions'],
    args: ['HOST'],
    summary: "a host's recorded decisions, newest first (the ids `berth policy replay` takes)",
    options: { limit: { type: 'string', value: 'N', help: 'at most N decisions (default 20, at most 1000)' } },
    async run(input, ctx) {
      const raw = input.string('limit');
      const limit = raw === undefined ? 20 : Number(raw);
      if (!Number.isInteger(limit) || limit < 1 || limit > 1000) throw new UsageError('--limit', 'must be a whole number from 1 to 1000');
      const res = await unary(telemetry(ctx), 'listDecisions', { hostId: input.arg('HOST'), limit }, ctx.timeoutMillis);
      const controlsOf = (json: string): string => {
        const d = JSON.parse(json) as { controls?: { kind: string; vmId?: string }[] };
        return (d.controls ?? []).map((c) => (c.vmId !== undefined ? `${c.kind} ${c.vmId}` : c.kind)).join(', ') || '-';
      };
      return {
        json: telemetryV1.ListDecisionsResponse.toJSON(res),
        text:
          res.decisions.length === 0
            ? `no decisions recorded for ${input.arg('HOST')}`
            : table(
                ['DECISION', 'AT', 'POLICY', 'CONTROLS'],
                res.decisions.map((d) => [d.decisionId, d.at, `${d.policyScope} v${d.policyVersion}`, controlsOf(d.json)]),
              ),
      };
    },
  },
  {
    words: ['policy', 'replay'],
    args: ['DECISION'],
    summary: 're-evaluate a recorded decision with its recorded policy and inputs; exit 1 unless the controls are identical',
    options: {},
    async run(input, ctx) {
      const res = await unary(telemetry(ctx), 'replayDecision', { decisionId: input.arg('DECISION') }, ctx.timeoutMillis);
      const text = [
        keyValue([
          ['decision', input.arg('DECISION')],
          ['identical', res.identical ? 'yes' : 'no'],
        ]),
        `recorded: ${res.recordedJson}`,
        `replayed: ${res.replayedJson}`,
        ...res.differences.map((d) => `  ${d}`),
      ].join('\n');
      return { json: telemetryV1.ReplayDecisionResponse.toJSON(res), text, exitCode: res.identical ? 0 : 1 };
    },
  },
];
