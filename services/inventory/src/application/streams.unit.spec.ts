import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '@berth/event-store';
import { decideVm } from '../domain/vm/decide.ts';
import { foldVm, initialVm } from '../domain/vm/state.ts';
import type { VmEvent } from '../domain/vm/events.ts';
import { GiB, placementOn, vmSpecInput } from '../testing/host-specs.ts';
import { evolveVmRecord, initialVmRecord, restampVmRecord, type VmRecord } from './streams.ts';

/** The VM's events as a store would hand them back, from `position` on, at the given times. */
const stored = (events: readonly VmEvent[], position: number, times: readonly string[]): StoredEvent[] =>
  events.map((e, i) => ({
    id: `00000000-0000-4000-8000-00000000000${position + i}`,
    type: e.type,
    schemaVersion: 1,
    streamId: 'vm-vm1',
    streamPosition: position + i,
    globalPosition: String(100 + position + i),
    transactionId: '7',
    occurredAt: times[i]!,
    data: e.data,
    metadata: {},
  }));
const fold = (from: VmRecord, events: readonly StoredEvent[]): VmRecord => events.reduce(evolveVmRecord, from);

describe("a VM record folded before its events were stored, restamped with the store's times", () => {
  const requested = decideVm(
    {
      type: 'ComposeVm',
      vmId: 'vm1',
      project: 'default',
      spec: vmSpecInput({ disks: [{ sizeBytes: 10 * GiB }] }),
      knownPools: new Set(['fast']),
      waitForCapacityMillis: 0,
      now: '2026-12-07T10:00:00.000Z',
    },
    initialVm(),
  );
  const placed = decideVm({ type: 'PlaceVm', placement: placementOn('h1') }, foldVm(requested));

  it('equals folding the stored events, for a stream the events start and for one they continue', () => {
    // The batch's clock, as the tentative fold saw it, and the times the store assigned.
    const batchClock = '2026-12-07T10:00:00.100Z';
    const first = stored(requested, 1, ['2026-12-07T10:00:00.250Z']);
    const tentative = fold(initialVmRecord(), stored(requested, 1, [batchClock]));
    expect(tentative.requestedAt).toBe(batchClock);
    const afterFirst = restampVmRecord(tentative, first);
    expect(afterFirst).toEqual(fold(initialVmRecord(), first));

    const next = stored(placed, 2, ['2026-12-07T10:00:01.500Z']);
    const tentativeNext = fold(afterFirst, stored(placed, 2, [batchClock]));
    expect(restampVmRecord(tentativeNext, next)).toEqual(fold(afterFirst, next));
    expect(restampVmRecord(tentativeNext, next)).toMatchObject({
      requestedAt: '2026-12-07T10:00:00.250Z',
      updatedAt: '2026-12-07T10:00:01.500Z',
    });
  });
});
