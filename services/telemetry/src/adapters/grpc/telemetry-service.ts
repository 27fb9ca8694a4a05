import { telemetryV1 } from '@berth/contracts';
import { NotFoundError, ValidationError } from '@berth/errors';
import { unary, type ServiceRegistration } from '@berth/grpc-kit';
import { withCall } from '@berth/event-store';
import type { SampleHistory } from '../../application/history.ts';
import type { Policies } from '../../application/policies.ts';
import type { ReplayResult } from '../../application/replay.ts';
import type { PolicySetApplied } from '../../domain/policy/policy.ts';
import type { RecordedEvent } from '../postgres/queries.ts';

export interface TelemetryServiceDeps<S> {
  readonly policies: Policies<S>;
  readonly history: SampleHistory;
  readonly resourcePool: (hostId: string) => string | undefined;
  readonly decisions: (hostId: string, limit: number) => Promise<RecordedEvent[]>;
  readonly replay: (decisionId: string) => Promise<ReplayResult>;
  readonly usage: (hostId: string) => unknown;
}

const required = (value: string, field: string): string => {
  if (value.trim() === '') throw new ValidationError({ field, reason: 'is required' });
  return value;
};

const toWire = (s: PolicySetApplied): telemetryV1.PolicySet => ({
  scope: s.scope,
  version: s.version,
  digest: s.digest,
  files: s.files.map((f) => ({ name: f.name, text: f.text })),
  appliedAt: s.appliedAt,
  source: s.source,
});

/** Thin transport: decode, call the application, encode. */
export function telemetryService<S>(d: TelemetryServiceDeps<S>): ServiceRegistration {
  const implementation: telemetryV1.TelemetryServiceServer = {
    applyPolicy: unary(async (req: telemetryV1.ApplyPolicyRequest, ctx): Promise<telemetryV1.ApplyPolicyResponse> => {
      const commandId = required(req.meta?.commandId ?? '', 'meta.command_id');
      const scope = required(req.scope, 'scope');
      const set = await d.policies.apply(
        scope,
        req.files.map((f) => ({ name: f.name, text: f.text })),
        { commandId, call: ctx },
      );
      return { policy: toWire(set) };
    }),
    showPolicy: unary(async (req: telemetryV1.ShowPolicyRequest): Promise<telemetryV1.ShowPolicyResponse> => {
      const set =
        req.scope !== '' ? d.policies.show(req.scope) : d.policies.resolve(required(req.hostId, 'host_id'), d.resourcePool(req.hostId)).set;
      return { policy: toWire(set), scopes: d.policies.scopes() };
    }),
    getHostTelemetry: unary(async (req: telemetryV1.GetHostTelemetryRequest): Promise<telemetryV1.GetHostTelemetryResponse> => {
      const hostId = required(req.hostId, 'host_id');
      const h = d.history.get(hostId);
      if (!h) throw new NotFoundError('host samples', hostId);
      return {
        hostId,
        json: JSON.stringify({
          host: h.host,
          guests: Object.fromEntries(h.guests),
          capabilities: h.capabilities,
          usage: d.usage(hostId) ?? null,
        }),
      };
    }),
    listDecisions: unary(async (req: telemetryV1.ListDecisionsRequest, ctx): Promise<telemetryV1.ListDecisionsResponse> => {
      const hostId = required(req.hostId, 'host_id');
      if (req.limit < 0 || req.limit > 1000)
        throw new ValidationError({ field: 'limit', reason: `must be between 0 and 1000, got ${req.limit}` });
      const rows = await withCall(ctx, 'listDecisions', () => d.decisions(hostId, req.limit === 0 ? 20 : req.limit));
      return {
        decisions: rows.map((r) => {
          const data = r.data as { policy?: { scope?: string; version?: number }; at?: string };
          return {
            decisionId: r.id,
            hostId,
            policyScope: data.policy?.scope ?? '',
            policyVersion: data.policy?.version ?? 0,
            at: data.at ?? r.occurredAt.toISOString(),
            json: JSON.stringify(r.data),
          };
        }),
      };
    }),
    replayDecision: unary(async (req: telemetryV1.ReplayDecisionRequest, ctx): Promise<telemetryV1.ReplayDecisionResponse> => {
      const r = await withCall(ctx, 'replayDecision', () => d.replay(required(req.decisionId, 'decision_id')));
      return {
        identical: r.identical,
        recordedJson: JSON.stringify(r.recorded),
        replayedJson: JSON.stringify(r.replayed),
        differences: [...r.differences],
      };
    }),
  };
  return { definition: telemetryV1.TelemetryServiceService, implementation };
}
