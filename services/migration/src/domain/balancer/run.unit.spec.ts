import { describe, expect, it } from 'vitest';
import { afterRun, input, pool } from '../../testing/balancer-pools.ts';
import { validatePolicy, defaultPolicy } from './policy.ts';
import { balance } from './run.ts';

// Hosts of 8 vCPUs: a VM of n vCPUs is n/8 of a host's load.
describe('balance', () => {
  it('does nothing when the pool policy is off (the default), and says so', () => {
    const run = balance(
      input(
        pool(2, [
          [0, 4],
          [0, 3],
        ]),
        {},
      ),
    );
    expect(run.moves).toEqual([]);
    expect(run.summary).toBe('balancing is off for pool default');
    expect(run.hosts.map((h) => h.bottleneck)).toEqual([7 / 8, 0]);
  });

  it('spread: relieves a host above 80% onto the least loaded one and records the predicted loads', () => {
    const p = pool(3, [
      [0, 4],
      [0, 2],
      [0, 1],
      [1, 4],
      [2, 1],
    ]);
    const run = balance(input(p, { mode: 'spread' }));
    expect(run.hosts.find((h) => h.hostId === 'h0')!.role).toBe('over');
    expect(run.moves).toHaveLength(1);
    // Moving the 2-vCPU VM to h2: 7/8 -> 5/8 and 1/8 -> 3/8; the gap 6/8 -> 2/8 (67% better). The 4-vCPU VM
    // would only swap the imbalance (7/8 -> 3/8, 1/8 -> 5/8: 67% too, but ties go to the lower VM id: vm00).
    const m = run.moves[0]!;
    expect([m.from, m.to]).toEqual(['h0', 'h2']);
    expect(m.before).toEqual({ from: 7 / 8, to: 1 / 8 });
    expect(m.after.from + m.after.to).toBeCloseTo(1);
    expect(m.improvement).toBeGreaterThanOrEqual(0.2);
    expect(run.candidates[0]).toMatchObject({ verdict: 'moved', vmId: m.vmId });
    expect(run.summary).toMatch(/^moved vm0\d from h0 to h2$/);
  });

  it('spread: a host above the threshold now but not over the whole window is not a source', () => {
    const p = pool(2, [
      [0, 4],
      [0, 3],
    ]);
    const history = (h: string) => (h === 'h0' ? [{ at: 1_000_000_000 - 30_000, cpu: 0.5, memory: 0.1 }] : []);
    const run = balance(input(p, { mode: 'spread' }, { history }));
    expect(run.moves).toEqual([]);
    expect(run.summary).toBe('no move: no host above 80% over the last 120 s');
    // An older sample, outside the window, does not count.
    const old = (h: string) => (h === 'h0' ? [{ at: 1_000_000_000 - 600_000, cpu: 0.5, memory: 0.1 }] : []);
    expect(balance(input(p, { mode: 'spread' }, { history: old })).moves).toHaveLength(1);
  });

  it('moves manual-and-automatic VMs only, never one in its cooldown, and says why not', () => {
    const p = pool(2, [
      [0, 4, 'manual'],
      [0, 3, 'none'],
    ]);
    const run = balance(input(p, { mode: 'spread' }));
    expect(run.moves).toEqual([]);
    expect(run.candidates.map((c) => c.reason)).toEqual([
      'migration mode manual: the balancer moves manual-and-automatic VMs only',
      'migration mode none: the balancer moves manual-and-automatic VMs only',
    ]);
    const cooling = pool(2, [
      [0, 4],
      [0, 3],
    ]);
    cooling.vms = cooling.vms.map((v) => ({ ...v, lastMovedAt: 1_000_000_000 - 3600_000 }));
    const r2 = balance(input(cooling, { mode: 'spread' }));
    expect(r2.moves).toEqual([]);
    expect(r2.candidates[0]!.reason).toMatch(/^cooldown: moved by the balancer at .*, not again before /);
  });

  it('rejects a move below the minimum improvement, with the predicted loads', () => {
    // h0 at 7/8, h1 at 6/8: moving a 1-vCPU VM makes the gap 1/8 -> 1/8 (0% better).
    const p = pool(
      2,
      [
        [0, 7],
        [1, 6],
      ],
      8,
    );
    // Hosts of 64 vCPUs, h0 at 56/64 in 1-vCPU VMs, h1 at 32/64: one VM narrows the gap 24/64 -> 22/64 (8%).
    const small = pool(2, [...Array.from({ length: 56 }, () => [0, 1] as const), [1, 32] as const], 64);
    for (const q of [p, small]) {
      const run = balance(input(q, { mode: 'spread' }));
      expect(run.moves).toEqual([]);
      expect(run.candidates.length).toBeGreaterThan(0);
      for (const c of run.candidates) expect(c.verdict).toBe('rejected');
    }
    expect(balance(input(small, { mode: 'spread' })).candidates[0]).toMatchObject({
      reason: 'predicted improvement 8.3% is below the minimum 20%',
      before: { from: 56 / 64, to: 32 / 64 },
    });
  });

  it('pack: empties a lightly used host into the fullest one that stays under the high threshold', () => {
    const p = pool(3, [
      [0, 1],
      [1, 4],
      [2, 5],
    ]);
    const run = balance(input(p, { mode: 'pack', maxMovesPerInterval: 5 }));
    expect(run.moves.map((m) => [m.vmId, m.from, m.to])).toEqual([['vm00', 'h0', 'h2']]);
    // The next run proposes nothing: h0 is empty; nothing is moved back.
    const next = balance(input(afterRun(p, run), { mode: 'pack', maxMovesPerInterval: 5 }));
    expect(next.moves).toEqual([]);
  });

  it('stops at the per-interval limit and says which candidates wait for it', () => {
    const p = pool(4, [
      [0, 2],
      [0, 2],
      [0, 3],
      [1, 1],
    ]);
    const run = balance(input(p, { mode: 'spread', maxMovesPerInterval: 1 }));
    expect(run.moves).toHaveLength(1);
    const exhausted = balance(input(p, { mode: 'spread' }, { movesThisInterval: 1 }));
    expect(exhausted.moves).toEqual([]);
    expect(exhausted.summary).toBe('no move: the limit of 1 move(s) per 60 s is reached');
  });

  it('measured usage replaces allocation through the same input', () => {
    // Allocation says h0 is at 50%; telemetry measures 95% for the whole window.
    const p = pool(2, [
      [0, 2],
      [0, 2],
    ]);
    const history = (h: string) =>
      h === 'h0'
        ? [
            { at: 1_000_000_000 - 60_000, cpu: 0.95, memory: 0.2 },
            { at: 1_000_000_000, cpu: 0.95, memory: 0.2 },
          ]
        : [{ at: 1_000_000_000, cpu: 0.05, memory: 0.1 }];
    expect(balance(input(p, { mode: 'spread' })).moves).toEqual([]);
    const run = balance(input(p, { mode: 'spread' }, { source: 'measured', history }));
    expect(run.moves).toHaveLength(1);
    expect(run.moves[0]!.before.from).toBeCloseTo(0.95);
    expect(run.moves[0]!.after.from).toBeCloseTo(0.7);
  });

  it('validates a policy, naming every bad field', () => {
    expect(validatePolicy(defaultPolicy('gpu'))).toEqual([]);
    const v = validatePolicy({ ...defaultPolicy(''), highThreshold: 1.5, lowThreshold: 0.9, minImprovement: 0, maxMovesPerInterval: 0 });
    expect(v.map((x) => x.field)).toEqual(['policy.pool', 'policy.highThreshold', 'policy.minImprovement', 'policy.maxMovesPerInterval']);
    expect(validatePolicy({ ...defaultPolicy('a'), highThreshold: 0.5, lowThreshold: 0.6, mode: 'spread' })).toEqual([
      { field: 'policy.lowThreshold', reason: 'must be below highThreshold (0.5), got 0.6' },
    ]);
  });
});
