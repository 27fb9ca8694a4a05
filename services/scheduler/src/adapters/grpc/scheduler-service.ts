/** Thin SchedulerService handlers: decode, ask the application, encode. */
import { schedulerV1 as pb } from '@berth/contracts';
import { Violations } from '@berth/errors';
import { unary, type ServiceRegistration } from '@berth/grpc-kit';
import { explain, lookUpUnknown, score, whatIf, type QueryDeps } from '../../application/queries.ts';
import { encodeClaim } from '@berth/model-codec';
import { fromProtoVmSpec, toJson } from './translate.ts';

const DEFAULT_LIMIT = 10;

export function schedulerService(deps: QueryDeps): ServiceRegistration {
  const implementation: pb.SchedulerServiceServer = {
    score: unary<pb.ScoreRequest, pb.ScoreResponse>(async (req, ctx) => {
      new Violations().check(req.limit >= 0 && req.limit <= 1000, 'limit', 'must be between 0 and 1000').throwIfAny();
      const vm = fromProtoVmSpec(req.vm, req.vmId);
      const asked = req.explain?.hosts ?? [];
      await lookUpUnknown(deps, asked, ctx);
      const { decision, hostsConsidered } = score(deps, vm, req.excludedHosts, req.limit || DEFAULT_LIMIT);
      const rejections = deps.engine.rejections(vm, asked, req.excludedHosts).map((r) => ({ ...r, reasons: [...r.reasons] }));
      const missing = req.explain?.missing ? deps.engine.missing(vm, req.excludedHosts) : undefined;
      const explained = { rejections, missingSummary: missing?.summary ?? '', missingJson: missing ? toJson(missing.detail) : '' };
      if (decision.kind === 'failed') {
        return {
          fits: false,
          summary: decision.summary,
          hosts: [],
          explanationJson: toJson(decision.detail),
          hostsConsidered,
          ...explained,
        };
      }
      const hosts = [decision.chosen, ...decision.alternates].map((c) => ({
        hostId: c.hostId,
        hostName: c.hostName,
        generation: c.generation,
        score: c.score,
        breakdownJson: toJson(c.breakdown),
        claim: encodeClaim(c.claim),
      }));
      return { fits: true, summary: decision.summary, hosts, explanationJson: '', hostsConsidered, ...explained };
    }),
    explain: unary<pb.ExplainRequest, pb.ExplainResponse>(async (req) => {
      new Violations().check(req.vmId !== '', 'vmId', 'is required').throwIfAny();
      const a = await explain(deps, req.vmId);
      let summary = '';
      try {
        const parsed = (JSON.parse(a.explanation) as { summary?: unknown }).summary;
        if (typeof parsed === 'string') summary = parsed;
      } catch {
        // Not JSON: the explanation itself is all there is.
        summary = a.explanation;
      }
      return {
        vmId: a.vmId,
        outcome: a.outcome === 'placed' ? pb.DecisionOutcome.DECISION_OUTCOME_PLACED : pb.DecisionOutcome.DECISION_OUTCOME_FAILED,
        hostId: a.hostId ?? '',
        summary,
        explanationJson: a.explanation,
        source: a.source,
      };
    }),
    whatIf: unary<pb.WhatIfRequest, pb.WhatIfResponse>(async (req) => {
      const r = whatIf(deps, fromProtoVmSpec(req.vm), req.hostIds);
      return { total: r.total, hosts: r.perHost.map((p) => ({ hostId: p.hostId, hostName: p.hostName, count: p.count })) };
    }),
  };
  return { definition: pb.SchedulerServiceService, implementation };
}
