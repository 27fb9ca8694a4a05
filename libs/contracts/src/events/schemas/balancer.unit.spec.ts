import { describe, expect, it } from 'vitest';
import { decodeEvent, storedEventEvolution } from './catalog.ts';
import { eventCatalog } from './index.ts';

const move = { vmId: 'vm1', from: 'h1', to: 'h2', migrationId: 'm-1', improvement: 0.5, reason: 'h1 90% -> 80%, h2 10% -> 20%' };

describe("the balancer's run record", () => {
  it('BalancerRunRecorded version 1 (moves only) reads as version 2: trigger interval when absent, no inputs, the moves as candidates', () => {
    const v1 = { at: '2026-12-06T10:00:00.000Z', summary: 'moved vm1 from h1 to h2', moves: [move] };
    const v2 = {
      ...v1,
      trigger: 'interval',
      hosts: [],
      candidates: [
        {
          vmId: 'vm1',
          vmName: 'vm1',
          from: 'h1',
          to: 'h2',
          improvement: 0.5,
          verdict: 'moved',
          reason: move.reason,
          migrationId: 'm-1',
        },
      ],
    };
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerRunRecorded', 1, v1)).toEqual({
      ok: true,
      type: 'BalancerRunRecorded',
      data: v2,
      upcastFrom: 1,
    });
    // A trigger recorded at version 1 stays; the store's read path gives the same.
    const manual = { ...v1, trigger: 'manual' };
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerRunRecorded', 1, manual)).toMatchObject({
      ok: true,
      data: { trigger: 'manual' },
    });
    expect(storedEventEvolution(eventCatalog, 'migration').upcast({ type: 'BalancerRunRecorded', schemaVersion: 1, data: v1 })).toEqual({
      type: 'BalancerRunRecorded',
      schemaVersion: 2,
      data: v2,
    });
  });

  it('version 2 needs the inputs: hosts and candidates, a known trigger', () => {
    const r = decodeEvent(eventCatalog, 'migration', 'BalancerRunRecorded', 2, { at: '2026-12-06T10:00:00.000Z', summary: 'x', moves: [] });
    expect(r).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^invalid BalancerRunRecorded v2 data: trigger: .*hosts: .*candidates: /) as string,
    });
    const whole = {
      at: '2026-12-06T10:00:00.000Z',
      trigger: 'interval',
      summary: 'no move',
      moves: [],
      source: 'allocation',
      hosts: [
        {
          hostId: 'h1',
          name: 'h1',
          cpu: 0.2,
          memory: 0.3,
          bottleneck: 0.3,
          samplesInWindow: 0,
          measured: false,
          role: 'normal',
          note: '',
          predicted: 0.3,
        },
      ],
      candidates: [{ vmId: 'vm1', vmName: 'vm1', from: 'h1', verdict: 'skipped', reason: 'not running' }],
    };
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerRunRecorded', 2, whole)).toEqual({
      ok: true,
      type: 'BalancerRunRecorded',
      data: whole,
    });
    expect(decodeEvent(eventCatalog, 'migration', 'BalancerRunRepeated', 1, { runPosition: 2, count: 3, lastAt: whole.at })).toMatchObject({
      ok: true,
    });
  });
});
