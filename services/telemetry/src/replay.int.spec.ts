import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { telemetryV1, type telemetry } from '@berth/contracts';
import { callUnary, createClient, GrpcStatus } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import { createTestDatabase, infraAvailable, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import type { DecisionRecorded } from './application/decisions.ts';
import { inputOf, replayDecision } from './application/replay.ts';
import { loadTelemetryConfig } from './config.ts';
import { startTelemetry, type RunningTelemetry } from './service.ts';

const GiB = 1024 * 1024; // KiB
const caps: telemetry.TelemetryCapabilitiesWire = {
  hostMemory: true,
  ksmStats: true,
  ksmRun: true,
  ksmTune: true,
  cpuTune: true,
  ioTune: true,
  balloon: true,
};

/** A deterministic pseudo-random walk so every round changes something on most hosts. */
function rng(seed: number): () => number {
  let s = seed;
  return () => ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) % 10_000) / 10_000;
}

function sample(hostId: string, r: () => number, balloons: Map<string, number>): telemetry.HostSampleMessage {
  const free = Math.floor(16 * GiB * (0.01 + r() * 0.4));
  return {
    v: 1,
    hostId,
    at: new Date().toISOString(),
    capabilities: caps,
    host: {
      mem_available: 16 * GiB,
      mem_unused: free,
      mem_free: free,
      swap_in: 0,
      swap_out: 0,
      anon_pages: 0,
      swap_total: 0,
      swap_usage: 0,
      ksm_run: r() < 0.5 ? 1 : 0,
      ksm_pages_to_scan: 64 + Math.floor(r() * 1000),
      ksm_sleep_millisecs: 10,
      ksm_pages_shared: 0,
      ksm_pages_sharing: 0,
      ksm_pages_unshared: 0,
      ksm_pages_volatile: 0,
      ksm_full_scans: 0,
      ksm_merge_across_nodes: 1,
      ksm_shareable: 8 * GiB,
      ksmd_cpu_usage: 0,
      cpu_count: 16,
    },
    guests: ['a', 'b', 'c', 'd'].map((g, i) => {
      const vmId = `${hostId}-${g}`;
      const cur = balloons.get(vmId) ?? 4 * GiB;
      return {
        vmId,
        stats: {
          balloon_cur: cur,
          balloon_max: 4 * GiB,
          mem_unused: Math.floor(cur * r() * 0.6),
          mem_available: cur,
          major_fault: 0,
          minor_fault: 0,
          swap_in: 0,
          swap_out: 0,
          vcpu_quota: i === 3 ? 50_000 : -1,
          vcpu_period: 100_000,
          vcpu_count: 2,
        },
      };
    }),
  };
}

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('recorded decisions replay to identical controls', () => {
  let db: TestDatabase;
  let tel: RunningTelemetry;
  const sent: telemetry.ControlRequest[] = [];

  beforeAll(async () => {
    db = await createTestDatabase('telemetry_replay');
    tel = await startTelemetry(
      loadTelemetryConfig({
        DATABASE_URL: db.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: testSubjectPrefix('tr'),
        TELEMETRY_GRPC_PORT: '0',
        TELEMETRY_LOG_FLUSH: '20ms',
      }),
      createLogger('replay-test'),
      {
        loop: false,
        // The executor's side is not under test here: every control is acknowledged.
        controls: { send: async (req) => (sent.push(req), { v: 1, results: req.controls.map(() => ({ ok: true as const })) }) },
      },
    );
    // SLA classes and priorities for some guests, so clamps and the priority order are in the decisions.
    for (let h = 0; h < 100; h++) {
      await tel.vms.put({ vmId: `h${h}-a`, tier: 'platinum', priority: 0, memoryBytes: 4 * 1024 ** 3 });
      await tel.vms.put({ vmId: `h${h}-b`, tier: 'gold', priority: 3, memoryBytes: 4 * 1024 ** 3 });
      await tel.vms.put({ vmId: `h${h}-c`, tier: 'silver', priority: 1, memoryBytes: 4 * 1024 ** 3 });
    }
  });
  afterAll(async () => {
    await tel?.stop();
    await db?.drop();
  });

  it('1,000 decisions of 100 hosts over many intervals replay with the recorded policy and inputs to the same controls', async () => {
    const r = rng(7);
    const balloons = new Map<string, number>();
    let decisions = 0;
    for (let round = 0; decisions < 1000 && round < 40; round++) {
      for (let h = 0; h < 100; h++) tel.history.add(sample(`h${h}`, r, balloons), Date.now());
      const outcomes = await Promise.all(Array.from({ length: 100 }, (_, h) => tel.evaluator.evaluateHost(`h${h}`)));
      decisions += outcomes.filter((o) => o.outcome === 'changed').length;
      // what was sent is what the guests now hold (as an executor would have done)
      for (const req of sent.splice(0)) for (const c of req.controls) if (c.kind === 'balloon') balloons.set(c.vmId, c.targetKib);
    }
    expect(decisions).toBeGreaterThanOrEqual(1000);
    const recorded = (await tel.queries.ofTypes(['DecisionRecorded'])).slice(0, 1000);
    expect(recorded).toHaveLength(1000);
    const kinds = new Set(recorded.flatMap((e) => (e.data as DecisionRecorded).controls.map((c) => c.kind)));
    expect([...kinds].sort()).toEqual(['balloon', 'cpuTune', 'ksm']);
    expect(recorded.some((e) => (e.data as DecisionRecorded).clamps.length > 0)).toBe(true);
    // Most inputs are deltas against the host's previous decision, a keyframe every 10 decisions.
    const depths = recorded.map((e) => (e.data as DecisionRecorded).input.depth);
    expect(depths.filter((d) => d === 0).length).toBeGreaterThanOrEqual(100);
    expect(depths.filter((d) => d > 0).length).toBeGreaterThan(depths.filter((d) => d === 0).length);
    expect(Math.max(...depths)).toBeLessThan(10);
    let identical = 0;
    for (const e of recorded) {
      const res = await replayDecision({ policies: tel.policies, engine: tel.engine, chain: (id) => tel.queries.decisionChain(id) }, e.id);
      if (res.identical) identical++;
      else expect(res.differences).toEqual([]);
    }
    expect(identical).toBe(1000);
  });

  it('a decision recorded at schema 1 (the whole input) upcasts to a keyframe and replays to the same controls', async () => {
    const [latest] = await tel.queries.decisions('h5', 1);
    const chain = (await tel.queries.decisionChain(latest!.id))!;
    expect(chain.length).toBeGreaterThan(1);
    const v2 = chain.at(-1)!.data;
    const { input: _delta, ...rest } = v2;
    const v1 = { ...rest, input: inputOf(chain) };
    const [stored] = await tel.log.append('host-h5-v1', [{ type: 'DecisionRecorded', schemaVersion: 1, data: v1 }]);
    const replayed = await replayDecision(
      { policies: tel.policies, engine: tel.engine, chain: (id) => tel.queries.decisionChain(id) },
      stored!.id,
    );
    expect(replayed.differences).toEqual([]);
    expect(replayed.identical).toBe(true);
    expect(replayed.replayed).toEqual(v2.controls);
  });

  it('over gRPC: a policy that does not parse names file and line and changes nothing; replay, show and list answer', async () => {
    const client = createClient(telemetryV1.TelemetryServiceClient, `127.0.0.1:${tel.port}`, { deadlineMillis: 20_000 });
    try {
      const before = await callUnary(client, 'showPolicy', { scope: 'default', hostId: '' });
      expect(before.policy?.source).toBe('builtin');
      const bad = callUnary(client, 'applyPolicy', {
        meta: { commandId: 'bad-1' },
        scope: 'default',
        files: [
          { name: '01-ok.policy', text: '(defvar x 1)\n' },
          { name: '02-broken.policy', text: '(defvar y 2)\n\n(+ 1 (* 2 3)\n' },
        ],
      });
      await expect(bad).rejects.toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT,
        details: expect.stringMatching(/02-broken\.policy:\d+/),
      });
      const after = await callUnary(client, 'showPolicy', { scope: 'default', hostId: '' });
      expect(after.policy?.version).toBe(before.policy?.version);
      await expect(callUnary(client, 'applyPolicy', { meta: { commandId: 'x' }, scope: 'cluster:1', files: [] })).rejects.toMatchObject({
        code: GrpcStatus.INVALID_ARGUMENT,
      });
      const ok = await callUnary(client, 'applyPolicy', {
        meta: { commandId: 'good-1' },
        scope: 'pool:gpu',
        files: [{ name: '01.policy', text: '(defvar x 1)\n' }],
      });
      expect(ok.policy).toMatchObject({ scope: 'pool:gpu', version: 1, source: 'applied' });
      const again = await callUnary(client, 'applyPolicy', {
        meta: { commandId: 'good-1' },
        scope: 'pool:gpu',
        files: [{ name: '01.policy', text: '(defvar x 1)\n' }],
      });
      expect(again.policy?.version).toBe(1);
      expect((await callUnary(client, 'showPolicy', { scope: '', hostId: 'h1' })).scopes).toEqual(['default', 'pool:gpu']);
      const list = await callUnary(client, 'listDecisions', { hostId: 'h3', limit: 2 });
      expect(list.decisions).toHaveLength(2);
      const replay = await callUnary(client, 'replayDecision', { decisionId: list.decisions[0]!.decisionId });
      expect(replay.identical).toBe(true);
      expect(JSON.parse(replay.replayedJson)).toEqual(JSON.parse(replay.recordedJson));
      await expect(callUnary(client, 'replayDecision', { decisionId: '00000000-0000-4000-8000-000000000000' })).rejects.toMatchObject({
        code: GrpcStatus.NOT_FOUND,
      });
    } finally {
      client.close();
    }
  });
});
