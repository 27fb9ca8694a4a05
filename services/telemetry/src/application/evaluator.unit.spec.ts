import { afterEach, describe, expect, it, vi } from 'vitest';
import { telemetry, telemetryInput } from '@berth/contracts';
import type { NewEvent, StoredEvent } from '@berth/event-store';
import { createLogger } from '@berth/observability';
import { momEngine } from '../adapters/mom/engine.ts';
import { Evaluator, type DecisionSink } from './evaluator.ts';
import { SampleHistory } from './history.ts';
import { Policies } from './policies.ts';
import type { ControlPort } from './ports.ts';

const GiB = 1024 * 1024; // KiB
const caps = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const host = (free: number) => ({
  mem_available: 16 * GiB,
  mem_unused: free,
  mem_free: free,
  swap_in: 0,
  swap_out: 0,
  anon_pages: 0,
  swap_total: 0,
  swap_usage: 0,
  ksm_run: 0,
  ksm_pages_to_scan: 100,
  ksm_sleep_millisecs: 10,
  ksm_pages_shared: 0,
  ksm_pages_sharing: 0,
  ksm_pages_unshared: 0,
  ksm_pages_volatile: 0,
  ksm_full_scans: 0,
  ksm_merge_across_nodes: 1,
  ksm_shareable: 0,
  ksmd_cpu_usage: 0,
  cpu_count: 8,
});
const guest = (cur: number) => ({
  balloon_cur: cur,
  balloon_max: 4 * GiB,
  balloon_min: 0,
  mem_unused: GiB,
  mem_available: cur,
  major_fault: 0,
  minor_fault: 0,
  swap_in: 0,
  swap_out: 0,
  vcpu_quota: -1,
  vcpu_period: 100_000,
  vcpu_user_limit: 100,
  vcpu_count: 2,
});
// Every interval asks each guest to give 64 MiB: a control every time (well above MOM's minimum step).
const policy = { name: '10-shrink.policy', text: '(with Guests guest (guest.Control "balloon_target" (- guest.balloon_cur 65536)))' };

/** A control port whose replies the test releases one by one. */
function gatedControls(): ControlPort & { sent: telemetry.ControlRequest[]; release(): void } {
  const waiting: (() => void)[] = [];
  const sent: telemetry.ControlRequest[] = [];
  return {
    sent,
    send(req) {
      sent.push(req);
      return new Promise((resolve) => waiting.push(() => resolve({ v: 1, results: req.controls.map(() => ({ ok: true as const })) })));
    },
    release() {
      waiting.shift()?.();
    },
  };
}

function recordingLog(): DecisionSink & {
  appended: { streamId: string; events: readonly NewEvent[] }[];
  quiet: Record<string, unknown>[];
} {
  const appended: { streamId: string; events: readonly NewEvent[] }[] = [];
  const quiet: Record<string, unknown>[] = [];
  return {
    appended,
    quiet,
    append(streamId, events) {
      appended.push({ streamId, events });
      return Promise.resolve([] as StoredEvent[]);
    },
    noteUnchanged(e) {
      quiet.push(e);
    },
  };
}

const settle = async (): Promise<void> => {
  for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
};

function setUp(opts: { stepMillis?: number } = {}) {
  const history = new SampleHistory(10);
  const policies = new Policies(undefined as never, momEngine);
  policies.replay([
    { scope: 'default', version: 1, digest: 'd', files: [policy], source: 'builtin', appliedAt: '2026-12-06T00:00:00.000Z' },
  ]);
  const log = recordingLog();
  const controls = gatedControls();
  let now = Date.parse('2026-12-06T10:00:00.000Z');
  const evaluator = new Evaluator({
    history,
    policies,
    engine: momEngine,
    vms: { get: () => undefined },
    hosts: { resourcePool: () => undefined },
    log,
    controls,
    thresholds: { critical: 0.05, calm: 0.2, restartAfterMillis: 120_000 },
    historyLength: 10,
    staleAfterMillis: 3_600_000,
    clock: () => now,
    logger: createLogger('evaluator-spec', { level: 'silent' }),
  });
  // A new sample before each interval: each reads a different latest sample.
  let n = 0;
  const sampleAndEvaluate = () => {
    n++;
    now += opts.stepMillis ?? 10_000;
    history.add(
      { v: 1, hostId: 'h1', at: '', capabilities: caps, host: host(8 * GiB - n), guests: [{ vmId: 'vm-1', stats: guest(4 * GiB - n) }] },
      now,
    );
    return evaluator.evaluateHost('h1');
  };
  return { evaluator, log, controls, sampleAndEvaluate, history };
}

const decisionsOf = (log: ReturnType<typeof recordingLog>) =>
  log.appended.map((a) => {
    const e = a.events[0]!;
    return { id: e.id!, data: e.data as { at: string; input: telemetryInput.RecordedInput; controls: telemetry.Control[] } };
  });

describe('the policy loop on its own timer (start): a host is evaluated at most once per half interval', () => {
  afterEach(() => void vi.useRealTimers());

  it('a round that reached a host late, followed by one on time, skips that host; the round after evaluates it', async () => {
    // The timer and the clock are fake; setImmediate stays real (the round yields with it after 20 hosts).
    vi.useFakeTimers({ now: Date.parse('2026-12-06T10:00:00.000Z'), toFake: ['setInterval', 'clearInterval', 'Date'] });
    const history = new SampleHistory(10);
    const policies = new Policies(undefined as never, momEngine);
    policies.replay([
      { scope: 'default', version: 1, digest: 'd', files: [policy], source: 'builtin', appliedAt: '2026-12-06T00:00:00.000Z' },
    ]);
    const log = recordingLog();
    const evaluator = new Evaluator({
      history,
      policies,
      engine: momEngine,
      vms: { get: () => undefined },
      hosts: { resourcePool: () => undefined },
      log,
      controls: { send: (req) => Promise.resolve({ v: 1, results: req.controls.map(() => ({ ok: true as const })) }) },
      thresholds: { critical: 0.05, calm: 0.2, restartAfterMillis: 120_000 },
      historyLength: 10,
      staleAfterMillis: 3_600_000,
      logger: createLogger('evaluator-spec', { level: 'silent' }),
    });
    // 21 hosts: a round evaluates the first 20, yields, then the 21st.
    const hosts = Array.from({ length: 21 }, (_, i) => `h${String(i + 1).padStart(2, '0')}`);
    for (const hostId of hosts)
      history.add(
        { v: 1, hostId, at: '', capabilities: caps, host: host(8 * GiB), guests: [{ vmId: `${hostId}-vm`, stats: guest(4 * GiB) }] },
        Date.now(),
      );
    const evaluatedAt = (hostId: string) =>
      log.appended.filter((a) => a.streamId === `host-${hostId}`).map((a) => (a.events[0]!.data as { at: string }).at.slice(11, 19));

    evaluator.start(10_000);
    vi.advanceTimersByTime(10_000); // 10:00:10, round 1: h01-h20 evaluated, then it yields
    vi.advanceTimersByTime(9_000); // the process is busy for 9 s before the round goes on (no tick is due)
    await settle(); // h21 evaluated at 10:00:19
    vi.advanceTimersByTime(1_000); // 10:00:20, round 2, on time: h21 was evaluated 1 s ago
    await settle();
    vi.advanceTimersByTime(10_000); // 10:00:30, round 3
    await settle();
    await evaluator.stop();

    expect(evaluatedAt('h01')).toEqual(['10:00:10', '10:00:20', '10:00:30']);
    expect(evaluatedAt('h20')).toEqual(['10:00:10', '10:00:20', '10:00:30']);
    expect(evaluatedAt('h21')).toEqual(['10:00:19', '10:00:30']);
  });

  it('a host evaluated again within half the interval is skipped; its next turn evaluates it', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval'] });
    const { evaluator, controls, sampleAndEvaluate } = setUp({ stepMillis: 700 });
    evaluator.start(2_000); // spacing 1 s (its timer does not fire here: the calls below are the rounds)
    const first = sampleAndEvaluate(); // t = 700
    await settle();
    expect(await sampleAndEvaluate()).toEqual({ outcome: 'skipped' }); // t = 1,400: 700 ms after the last
    const third = sampleAndEvaluate(); // t = 2,100: 1,400 ms after it, waits for the first's turn
    await settle();
    controls.release();
    expect(await first).toMatchObject({ outcome: 'changed' });
    await settle();
    controls.release();
    expect(await third).toMatchObject({ outcome: 'changed', queued: true });
    await evaluator.stop();
  });

  it('without start() (a replay, rounds called back to back) the same calls are all evaluated', async () => {
    const { controls, sampleAndEvaluate } = setUp({ stepMillis: 700 });
    const first = sampleAndEvaluate();
    await settle();
    const second = sampleAndEvaluate();
    const third = sampleAndEvaluate();
    // The second was evaluated: the third replaced it while it waited.
    expect(await second).toMatchObject({ outcome: 'superseded' });
    controls.release();
    expect(await first).toMatchObject({ outcome: 'changed' });
    await settle();
    controls.release();
    expect(await third).toMatchObject({ outcome: 'changed', queued: true });
  });
});

describe('the policy loop: an interval evaluated while its host is in flight waits for its turn', () => {
  it('is evaluated on its own samples, recorded after the decision before it and sent after that one is applied', async () => {
    const { log, controls, sampleAndEvaluate } = setUp();
    const first = sampleAndEvaluate();
    await settle();
    expect(controls.sent).toHaveLength(1);
    const second = sampleAndEvaluate();
    await settle();
    // Evaluated, but neither recorded nor sent while the first is being applied.
    expect(log.appended).toHaveLength(1);
    expect(controls.sent).toHaveLength(1);
    controls.release();
    expect(await first).toMatchObject({ outcome: 'changed' });
    await settle();
    expect(log.appended).toHaveLength(2);
    expect(controls.sent).toHaveLength(2);
    controls.release();
    expect(await second).toMatchObject({ outcome: 'changed', queued: true });
    const [d1, d2] = decisionsOf(log);
    // In order: the second's input is a delta against the first, and decodes to what it read.
    expect(d2!.data.input.base).toBe(d1!.id);
    expect(d2!.data.at > d1!.data.at).toBe(true);
    expect(controls.sent.map((r) => r.decisionId)).toEqual([d1!.id, d2!.id]);
    const decoded1 = telemetryInput.decodeDecisionInput(d1!.data.input);
    const decoded2 = telemetryInput.decodeDecisionInput(d2!.data.input, decoded1);
    expect(decoded2.mom.host.at(-1)!['mem_free']).toBe(8 * GiB - 2);
    expect(decoded2.mom.guests[0]!.history.at(-1)!['balloon_cur']).toBe(4 * GiB - 2);
    expect(controls.sent[1]!.controls).toEqual([{ kind: 'balloon', vmId: 'vm-1', targetKib: 4 * GiB - 2 - 65536 }]);
  });

  it('at most one waits: a newer interval replaces the waiting one, which is recorded as superseded and never sent', async () => {
    const { log, controls, sampleAndEvaluate } = setUp();
    const first = sampleAndEvaluate();
    await settle();
    const second = sampleAndEvaluate();
    const third = sampleAndEvaluate();
    expect(await second).toEqual({ outcome: 'superseded', queued: true });
    expect(log.quiet).toEqual([expect.objectContaining({ hostId: 'h1', superseded: true, policy: 'default@1' })]);
    controls.release();
    await first;
    await settle();
    controls.release();
    expect(await third).toMatchObject({ outcome: 'changed', queued: true });
    const [d1, d3] = decisionsOf(log);
    expect(log.appended).toHaveLength(2);
    expect(d3!.data.input.base).toBe(d1!.id);
    // The third read the third samples; the second's were never sent.
    expect(controls.sent.map((r) => r.controls)).toEqual([
      [{ kind: 'balloon', vmId: 'vm-1', targetKib: 4 * GiB - 1 - 65536 }],
      [{ kind: 'balloon', vmId: 'vm-1', targetKib: 4 * GiB - 3 - 65536 }],
    ]);
    expect(log.quiet[0]!['at']).toBe(new Date(Date.parse('2026-12-06T10:00:20.000Z')).toISOString());
  });

  it("a failed interval takes its turn as well: it supersedes a waiting decision and is recorded after the host's decision in flight", async () => {
    const { evaluator, log, controls, sampleAndEvaluate, history } = setUp();
    const first = sampleAndEvaluate();
    await settle();
    const second = sampleAndEvaluate();
    // the next sample lacks a mandatory host statistic: the interval fails (MOM: not ready)
    history.add(
      { v: 1, hostId: 'h1', at: '', capabilities: caps, host: { mem_free: 1 }, guests: [] },
      Date.parse('2026-12-06T10:00:25.000Z'),
    );
    const third = evaluator.evaluateHost('h1');
    expect(await second).toEqual({ outcome: 'superseded', queued: true });
    // not recorded while the first decision is being applied
    expect(log.quiet.filter((q) => q['error'] !== undefined)).toEqual([]);
    controls.release();
    await first;
    expect(await third).toMatchObject({ outcome: 'failed', queued: true });
    expect(log.quiet.map((q) => (q['superseded'] ? 'superseded' : q['error'] ? 'failed' : 'quiet'))).toEqual(['superseded', 'failed']);
    expect(controls.sent).toHaveLength(1);
  });

  it('a host whose decision is in flight does not hold back another host', async () => {
    const { evaluator, controls, sampleAndEvaluate } = setUp();
    void sampleAndEvaluate();
    await settle();
    expect(controls.sent).toHaveLength(1);
    // (h1 is in flight; the round still evaluates it, and its decision waits)
    const round = evaluator.evaluateAll();
    await settle();
    expect(controls.sent).toHaveLength(1);
    controls.release();
    await settle();
    controls.release();
    expect(await round).toBe(1);
  });
});
