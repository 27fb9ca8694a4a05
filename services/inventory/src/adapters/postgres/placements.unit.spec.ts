import { describe, expect, it } from 'vitest';
import type { StoredEvent } from '@berth/event-store';
import { placementClassifier } from './placements.ts';

let position = 0;
const stored = (streamId: string, type: string, data: unknown): StoredEvent => ({
  id: `e${++position}`,
  type,
  schemaVersion: 1,
  streamId,
  streamPosition: position,
  globalPosition: String(position),
  transactionId: '1',
  occurredAt: '2026-12-07T09:00:00.000Z',
  metadata: {},
  data,
});
const claimed = (hostId: string, vmId: string) =>
  stored(`host-${hostId}`, 'ResourcesClaimed', { claim: { vmId, hostId, vcpus: 1, memoryBytes: 1 }, expectedGeneration: 0 });
const placed = (vmId: string, hostId: string) => stored(`vm-${vmId}`, 'VmPlaced', { hostId, hypervisorUri: `sim://${hostId}` });
const migrationStarted = (vmId: string, hostId: string) =>
  stored(`vm-${vmId}`, 'VmMigrationStarted', { migrationId: 'm1', destination: { hostId, hypervisorUri: `sim://${hostId}` } });

describe('placementClassifier', () => {
  it('calls a host placements-only when each of its claims is committed with that VM placed on it', () => {
    const batch = [claimed('h1', 'a'), placed('a', 'h1'), claimed('h1', 'b'), placed('b', 'h1')];
    expect(placementClassifier(batch)('h1', [batch[0]!, batch[2]!])).toBe(true);
  });

  it("a live migration's destination claim is not a placement: its host goes out with the batch", () => {
    const batch = [claimed('h2', 'a'), migrationStarted('a', 'h2')];
    expect(placementClassifier(batch)('h2', [batch[0]!])).toBe(false);
  });

  it('one claim that is not a placement, or any other event on the host, makes the whole host changed', () => {
    const batch = [claimed('h1', 'a'), placed('a', 'h1'), claimed('h1', 'b'), migrationStarted('b', 'h1')];
    const classify = placementClassifier(batch);
    expect(classify('h1', [batch[0]!, batch[2]!])).toBe(false);
    const released = stored('host-h1', 'ClaimReleased', { vmId: 'c', claim: { vmId: 'c', hostId: 'h1' } });
    expect(classify('h1', [batch[0]!, released])).toBe(false);
  });

  it('a claim whose VmPlaced names another host, or fell outside the batch, is not counted as a placement here', () => {
    const elsewhere = [claimed('h1', 'a'), placed('a', 'h9')];
    expect(placementClassifier(elsewhere)('h1', [elsewhere[0]!])).toBe(false);
    const split = [claimed('h1', 'a')];
    expect(placementClassifier(split)('h1', split)).toBe(false);
  });

  it('a host with no new events is not placements-only', () => {
    expect(placementClassifier([placed('a', 'h1')])('h1', [])).toBe(false);
  });
});
