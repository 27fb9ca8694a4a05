import { describe, expect, it } from 'vitest';
import { migrationV1 } from '@berth/contracts';
import { evacuationText, planText } from './host-drain.ts';

const GiB = 1024 ** 3;

describe('berth hosts drain rendering', () => {
  it('the plan: moves in order with destination and reason, the HP warning, blockers with their remedy', () => {
    const text = planText(
      migrationV1.EvacuationPlan.fromPartial({
        hostId: 'h1',
        totalMemoryBytes: 6 * GiB,
        concurrency: 2,
        moves: [
          {
            vmId: 'pinned-hp',
            order: 1,
            priority: 10,
            memoryBytes: 4 * GiB,
            destinationHostId: 'h3',
            reason: 'spread',
            warning: 'performance may decrease',
          },
          { vmId: 'plain', order: 2, priority: 1, memoryBytes: 2 * GiB, destinationHostId: 'h2', reason: 'spread', warning: '' },
        ],
        blockers: [{ vmId: 'stuck', reason: 'its migration mode is none', remedy: 'change its migration mode or stop it' }],
      }),
    );
    expect(text.split('\n')[0]).toBe('drain h1: 2 to move (6 GiB), 1 blocked, 2 at once');
    expect(text.indexOf('pinned-hp')).toBeLessThan(text.indexOf('plain'));
    expect(text).toMatch(/warning: pinned-hp: performance may decrease/);
    expect(text).toMatch(/blocked: stuck: its migration mode is none \(change its migration mode or stop it\)/);
    expect(text).not.toMatch(/warning: plain/);
  });

  it('the drain: each move and why it waits, with the next retry', () => {
    const text = evacuationText(
      migrationV1.Evacuation.fromPartial({
        evacuationId: 'h1#1',
        hostId: 'h1',
        status: 'blocked',
        previousHostState: 'enabled',
        moves: [{ vmId: 'plain', status: 'completed', destinationHostId: 'h2', migrationId: 'm1', reason: 'now on h2' }],
        blockedReason: 'stuck: its migration mode is none',
        nextRetryAt: '2026-12-06T02:00:00Z',
      }),
    );
    expect(text).toMatch(/^evacuation h1#1 of h1: blocked \(host was enabled\)/);
    expect(text).toMatch(/plain\s+completed\s+h2\s+m1\s+now on h2/);
    expect(text).toMatch(/waiting: stuck: its migration mode is none; next retry 2026-12-06T02:00:00Z$/);
  });
});
