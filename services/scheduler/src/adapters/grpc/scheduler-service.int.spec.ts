import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { modelV1, schedulerV1 as pb } from '@berth/contracts';
import { hostSnapshot } from '@berth/fit';
import { GrpcStatus, callUnary, createClient, createGrpcServer, fieldViolationsOf, type GrpcServer } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import { DecisionLog } from '../../application/decision-log.ts';
import { EMPTY_COST_CONFIG, ScoringEngine, policyTable } from '../scoring/scoring-engine.ts';
import { schedulerService } from './scheduler-service.ts';

const GiB = 1024 ** 3;

const spec = (over: Partial<modelV1.VmSpec> = {}): modelV1.VmSpec => ({
  ...modelV1.VmSpec.fromPartial({ name: 'web', vcpus: 2, memoryBytes: 4 * GiB }),
  ...over,
});

describe('SchedulerService over gRPC', () => {
  let server: GrpcServer;
  let client: InstanceType<typeof pb.SchedulerServiceClient>;
  const decisions = new DecisionLog();
  const engine = new ScoringEngine(EMPTY_COST_CONFIG, policyTable('pack', {}));
  // The bucket holds 'late', which the view has not seen yet (its watch lags).
  const bucket = new Map([['late', hostSnapshot({ hostId: 'late', cpus: 2, memoryBytes: 2 * GiB }, 1)]]);

  beforeAll(async () => {
    engine.upsert(hostSnapshot({ hostId: 'big', cpus: 16, memoryBytes: 64 * GiB }, 3));
    engine.upsert(hostSnapshot({ hostId: 'small', cpus: 4, memoryBytes: 8 * GiB }, 1));
    engine.upsert(hostSnapshot({ hostId: 'down', state: 'maintenance' }, 1));
    decisions.record({
      vmId: 'vm-local',
      outcome: 'placed',
      hostId: 'big',
      explanation: '{"summary":"vm-local goes to big"}',
      attempts: 1,
      decidedAt: '',
    });
    const inventory = {
      lastDecision: async (vmId: string) =>
        vmId === 'vm-elsewhere'
          ? { vmId, outcome: 'failed' as const, explanation: '{"summary":"0/3 hosts can take vm-elsewhere"}' }
          : undefined,
      // 'fresh' is registered in inventory; the projection writes it to the bucket a moment later.
      hasHost: async (hostId: string) => hostId === 'fresh',
    };
    const source = { get: async (hostId: string) => bucket.get(hostId) };
    server = createGrpcServer({
      serviceName: 'scheduler',
      services: [schedulerService({ engine, view: engine, decisions, inventory, source })],
      readiness: async () => true,
      logger: createLogger('scheduler-test', { level: 'warn' }),
    });
    const port = await server.listen(0, '127.0.0.1');
    client = createClient(pb.SchedulerServiceClient, `127.0.0.1:${port}`, { deadlineMillis: 5000 });
  });

  afterAll(async () => {
    client.close();
    await server.shutdown(0, 1000);
  });

  it('Score ranks the hosts that can take the VM, with breakdowns, and changes nothing', async () => {
    const res = await callUnary(client, 'score', { vm: spec(), excludedHosts: [], limit: 0, vmId: '' });
    expect(res.fits).toBe(true);
    expect(res.hostsConsidered).toBe(3);
    expect(res.hosts.map((h) => h.hostId).sort()).toEqual(['big', 'small']);
    expect(res.hosts[0]!.score).toBeLessThanOrEqual(res.hosts[1]!.score);
    expect(JSON.parse(res.hosts[0]!.breakdownJson)).toHaveProperty('cost');
    expect(engine.get('big')?.claims).toHaveLength(0);
  });

  it('Score explains a VM that fits nowhere, per filter', async () => {
    const res = await callUnary(client, 'score', {
      vm: spec({ name: 'vm-7', memoryBytes: 100 * GiB }),
      vmId: 'vm-7',
      excludedHosts: ['small'],
      limit: 5,
    });
    expect(res.fits).toBe(false);
    expect(res.summary).toMatch(/^0\/3 hosts can take vm-7: /);
    expect(res.summary).toContain('lack memory (needs 100 GiB; the best has 64 GiB free)');
    expect(res.summary).toContain('in maintenance');
  });

  it('Score asks the bucket about a named host its view does not hold yet before calling it unknown', async () => {
    const res = await callUnary(client, 'score', {
      vm: spec({ name: 'vm-8' }),
      vmId: 'vm-8',
      excludedHosts: [],
      limit: 1,
      explain: { hosts: ['late', 'ghost'], missing: false },
    });
    const reasons = Object.fromEntries(res.rejections.map((r) => [r.hostId, r.reasons.map((f) => f.filter)]));
    expect(reasons).toEqual({ late: ['memory'], ghost: ['unknown'] });
    expect(engine.get('late')?.generation).toBe(1);
    engine.remove('late');
  });

  it('Score waits for a named host inventory has and the bucket not yet (the projection lags), and not for one inventory lacks', async () => {
    const registered = setTimeout(() => bucket.set('fresh', hostSnapshot({ hostId: 'fresh', cpus: 8, memoryBytes: 32 * GiB }, 1)), 300);
    try {
      const res = await callUnary(client, 'score', {
        vm: spec({ name: 'vm-9' }),
        vmId: 'vm-9',
        excludedHosts: [],
        limit: 0,
        explain: { hosts: ['fresh', 'ghost'], missing: false },
      });
      // 'fresh' fits (no rejection) and is ranked; 'ghost' is unknown.
      expect(res.rejections.map((r) => [r.hostId, r.reasons.map((f) => f.filter)])).toEqual([['ghost', ['unknown']]]);
      expect(res.hosts.map((h) => h.hostId)).toContain('fresh');
    } finally {
      clearTimeout(registered);
      bucket.delete('fresh');
      engine.remove('fresh');
    }
  });

  it('WhatIf counts how many more VMs of the spec fit, per host', async () => {
    const res = await callUnary(client, 'whatIf', { vm: spec(), hostIds: [] });
    // big: min(16/2, 64/4) = 8; small: min(4/2, 8/4) = 2.
    expect(res.hosts.map((h) => [h.hostId, h.count])).toEqual([
      ['big', 8],
      ['small', 2],
    ]);
    expect(res.total).toBe(10);
    const only = await callUnary(client, 'whatIf', { vm: spec(), hostIds: ['small'] });
    expect(only.total).toBe(2);
  });

  it('Explain answers from recent decisions, then from inventory, else NOT_FOUND', async () => {
    const local = await callUnary(client, 'explain', { vmId: 'vm-local' });
    expect(local).toMatchObject({
      outcome: pb.DecisionOutcome.DECISION_OUTCOME_PLACED,
      hostId: 'big',
      summary: 'vm-local goes to big',
      source: 'scheduler',
    });
    const remote = await callUnary(client, 'explain', { vmId: 'vm-elsewhere' });
    expect(remote).toMatchObject({
      outcome: pb.DecisionOutcome.DECISION_OUTCOME_FAILED,
      summary: '0/3 hosts can take vm-elsewhere',
      source: 'inventory',
    });
    await expect(callUnary(client, 'explain', { vmId: 'vm-unknown' })).rejects.toMatchObject({ code: GrpcStatus.NOT_FOUND });
  });

  it('rejects bad input with INVALID_ARGUMENT naming each field', async () => {
    const err: unknown = await callUnary(client, 'score', {
      vm: spec({ vcpus: 0, memoryBytes: -1, disks: [{ sizeBytes: 0, pool: '' }] }),
      excludedHosts: [],
      limit: 0,
      vmId: '',
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: GrpcStatus.INVALID_ARGUMENT });
    expect(fieldViolationsOf(err).map((v) => v.field)).toEqual(['vm.vcpus', 'vm.memoryBytes', 'vm.disks[0].sizeBytes']);
    const missing: unknown = await callUnary(client, 'whatIf', { hostIds: [] }).catch((e: unknown) => e);
    expect(fieldViolationsOf(missing)).toEqual([{ field: 'vm', reason: 'is required' }]);
  });
});
