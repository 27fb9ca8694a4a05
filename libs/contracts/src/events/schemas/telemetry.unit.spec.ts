import { describe, expect, it } from 'vitest';
import { decodeEvent } from './catalog.ts';
import { eventCatalog } from './index.ts';

const at = '2026-12-06T05:00:00.000Z';
const decision = {
  hostId: 'h1',
  at,
  policy: { scope: 'default', version: 2, digest: 'abc' },
  input: { host: [{ mem_free: 1 }], guests: [] },
  decided: { host: { ksm_run: 1 }, guests: { 'vm-1': { balloon_target: 1024 } } },
  excludedGuests: [],
  clamps: [{ vmId: 'vm-1', control: 'balloon_target', decided: 512, applied: 768, rule: 'gold-75-percent' }],
  controls: [
    { kind: 'balloon', vmId: 'vm-1', targetKib: 768 },
    { kind: 'ksm', run: 1 },
  ],
  unsupported: [],
};

describe("telemetry's events in the catalog", () => {
  it('reads what the telemetry service records', () => {
    const policy = { scope: 'default', version: 1, digest: 'd', files: [{ name: '00-defaults.policy', text: '(defvar x 1)' }] };
    expect(decodeEvent(eventCatalog, 'telemetry', 'PolicySetApplied', 1, { ...policy, source: 'builtin', appliedAt: at })).toMatchObject({
      ok: true,
    });
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, decision)).toMatchObject({ ok: true });
    const entries = [
      { hostId: 'h1', at, policy: 'default@1' },
      { hostId: 'h2', at, policy: 'default@1', error: 'unbound x' },
    ];
    expect(decodeEvent(eventCatalog, 'telemetry', 'UnchangedIntervalsRecorded', 1, { entries })).toMatchObject({ ok: true });
  });

  it('refuses a control it does not know and a clamp without its rule, naming the field', () => {
    const badControl = { ...decision, controls: [{ kind: 'reboot', vmId: 'vm-1' }] };
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, badControl)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^invalid DecisionRecorded v1 data: controls\.0/) as string,
    });
    const badClamp = { ...decision, clamps: [{ vmId: 'vm-1', control: 'balloon_target', decided: 1, applied: null }] };
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, badClamp)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/clamps\.0\.rule/) as string,
    });
  });
});
