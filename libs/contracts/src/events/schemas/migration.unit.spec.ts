import { describe, expect, it } from 'vitest';
import { decodeEvent, storedEventEvolution } from './catalog.ts';
import { eventCatalog } from './index.ts';

const policy = {
  maxDowntimeMillis: 0,
  bandwidthMiBps: 0,
  autoConverge: false,
  postCopy: false,
  completionBudgetSecondsPerGiB: 150,
  noProgressTimeoutSeconds: 150,
  maxAttempts: 3,
};
const claimed = {
  attempt: 1,
  vmId: 'vm1',
  hostId: 'h2',
  hypervisorUri: 'qemu:///h2',
  generation: 4,
  sourceHostId: 'h1',
  sourceHypervisorUri: 'qemu:///h1',
  memoryBytes: 1024 ** 3,
  policy,
};
const claim = {
  vmId: 'vm1',
  hostId: 'h2',
  vcpus: 2,
  memoryBytes: 1024 ** 3,
  pinnedCpus: [6, 7],
  numaCells: [{ guestCell: 0, hostNode: 1, cpus: [6, 7], memoryBytes: 1024 ** 3, vcpus: 2 }],
  hugepages: [],
  devices: [],
  vfs: [],
  volumes: [{ diskIndex: 0, pool: 'fast', sizeBytes: 1024 ** 3 }],
  affinityGroups: [],
};

describe("the migration service's events", () => {
  it('AttemptFailed version 1 with the empty host of an attempt that chose none reads as version 2 without a host', () => {
    const v1 = { attempt: 1, hostId: '', stage: 'choose', reason: 'no host fits' };
    expect(decodeEvent(eventCatalog, 'migration', 'AttemptFailed', 1, v1)).toEqual({
      ok: true,
      type: 'AttemptFailed',
      data: { attempt: 1, stage: 'choose', reason: 'no host fits' },
      upcastFrom: 1,
    });
    // A named host stays; in the log (the store's read path) too.
    const named = { attempt: 2, hostId: 'h3', stage: 'copy', reason: 'boom' };
    expect(decodeEvent(eventCatalog, 'migration', 'AttemptFailed', 1, named)).toMatchObject({ ok: true, data: named, upcastFrom: 1 });
    const stored = storedEventEvolution(eventCatalog, 'migration').upcast({ type: 'AttemptFailed', schemaVersion: 1, data: v1 });
    expect(stored).toEqual({ type: 'AttemptFailed', schemaVersion: 2, data: { attempt: 1, stage: 'choose', reason: 'no host fits' } });
  });

  it("MigrationFailed version 1's summary reads as version 2: an attempt that chose no host has no hostId", () => {
    const v1 = {
      reason: 'no destination after 2 attempts',
      attempts: [
        { attempt: 1, hostId: 'h2', reason: 'copy failed' },
        { attempt: 2, hostId: '', reason: 'no host fits' },
      ],
    };
    const v2 = { reason: v1.reason, attempts: [v1.attempts[0], { attempt: 2, reason: 'no host fits' }] };
    expect(decodeEvent(eventCatalog, 'migration', 'MigrationFailed', 1, v1)).toEqual({
      ok: true,
      type: 'MigrationFailed',
      data: v2,
      upcastFrom: 1,
    });
    const stored = storedEventEvolution(eventCatalog, 'migration').upcast({ type: 'MigrationFailed', schemaVersion: 1, data: v1 });
    expect(stored).toEqual({ type: 'MigrationFailed', schemaVersion: 2, data: v2 });
    const sentinel = decodeEvent(eventCatalog, 'migration', 'MigrationFailed', 2, v1);
    expect(sentinel).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^invalid MigrationFailed v2 data: attempts\.1\.hostId: /) as string,
    });
  });

  it("version 2 refuses the '' sentinel: a host is named or absent", () => {
    const r = decodeEvent(eventCatalog, 'migration', 'AttemptFailed', 2, { attempt: 1, hostId: '', stage: 'choose', reason: 'x' });
    expect(r).toMatchObject({ ok: false, reason: expect.stringMatching(/^invalid AttemptFailed v2 data: hostId: /) as string });
  });

  it('DestinationClaimed carries the destination claim, checked field by field; one written before it was carried still reads', () => {
    expect(decodeEvent(eventCatalog, 'migration', 'DestinationClaimed', 1, { ...claimed, claim })).toEqual({
      ok: true,
      type: 'DestinationClaimed',
      data: { ...claimed, claim },
    });
    expect(decodeEvent(eventCatalog, 'migration', 'DestinationClaimed', 1, claimed)).toEqual({
      ok: true,
      type: 'DestinationClaimed',
      data: claimed,
    });
    const bad = decodeEvent(eventCatalog, 'migration', 'DestinationClaimed', 1, { ...claimed, claim: { ...claim, pinnedCpus: ['6'] } });
    expect(bad).toMatchObject({ ok: false, reason: expect.stringMatching(/claim\.pinnedCpus\.0: /) as string });
  });
});
