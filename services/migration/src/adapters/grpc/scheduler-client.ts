/** SchedulerPort over the scheduler's Score RPC. */
import { modelV1, schedulerV1 as sch } from '@berth/contracts';
import type { CallDeadline } from '@berth/errors';
import { callUnary, createClient, type ClientOptions } from '@berth/grpc-kit';
import type { MissingGroup, ScoreAnswer, SchedulerPort, VmInfo } from '../../application/ports.ts';

interface MissingJson {
  groups?: { reason?: string; subject?: string; hosts?: number; sampleHosts?: string[] }[];
}

function missingGroups(json: string): MissingGroup[] {
  if (json === '') return [];
  const parsed = JSON.parse(json) as MissingJson;
  return (parsed.groups ?? []).map((g) => ({
    reason: g.reason ?? '',
    subject: g.subject ?? '',
    hosts: g.hosts ?? 0,
    sampleHosts: g.sampleHosts ?? [],
  }));
}

export class GrpcScheduler implements SchedulerPort {
  readonly client: InstanceType<typeof sch.SchedulerServiceClient>;

  /** `options`: the call deadline, this service's own identity (mutual TLS) when the deployment has one, GRPC_CONNECT_TIMEOUT. */
  constructor(address: string, options: ClientOptions) {
    this.client = createClient(sch.SchedulerServiceClient, address, options);
  }

  async score(
    vm: VmInfo,
    opts: { excludedHosts: readonly string[]; limit: number; explainHosts?: readonly string[]; explainMissing?: boolean },
    call?: CallDeadline,
  ): Promise<ScoreAnswer> {
    const r = await callUnary(
      this.client,
      'score',
      {
        vm: vm.schedulingSpec as modelV1.VmSpec,
        vmId: vm.vmId,
        excludedHosts: [...opts.excludedHosts],
        limit: opts.limit,
        explain: { hosts: [...(opts.explainHosts ?? [])], missing: opts.explainMissing ?? false },
      },
      call && { parent: call },
    );
    return {
      fits: r.fits,
      summary: r.summary,
      hosts: r.hosts.map((h) => ({
        hostId: h.hostId,
        hostName: h.hostName,
        generation: h.generation,
        score: h.score,
        breakdownJson: h.breakdownJson,
        claim: modelV1.Claim.toJSON(h.claim ?? modelV1.Claim.fromPartial({})),
      })),
      rejections: new Map(r.rejections.map((x) => [x.hostId, x.reasons.map((f) => `${f.filter}: ${f.detail}`)])),
      missingSummary: r.missingSummary,
      missing: missingGroups(r.missingJson),
    };
  }

  close(): void {
    this.client.close();
  }
}
