import { describe, expect, it } from 'vitest';
import { decodeEvent } from './catalog.ts';
import { eventCatalog } from './index.ts';

const at = '2026-12-06T05:00:00.000Z';
const decision = {
  hostId: 'h1',
  at,
  policy: { scope: 'default', version: 2, digest: 'abc' },
  // schema 1: the whole input
  input: {
    mom: {
      host: [{ mem_free: 1 }, { mem_free: 2 }],
      host_props: { host_id: 'h1' },
      guests: [{ name: 'vm-1', uuid: 'vm-1', props: { sla_tier: 'gold' }, history: [{ balloon_cur: 1024, balloon_max: 1024 }] }],
      config: { history_length: 10 },
    },
    capabilities: { hostMemory: true, ksmStats: true, ksmRun: false, ksmTune: true, cpuTune: true, ioTune: true, balloon: true },
    ioTuneApplied: {},
  },
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
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, decision)).toMatchObject({ ok: true, upcastFrom: 1 });
    const entries = [
      { hostId: 'h1', at, policy: 'default@1' },
      { hostId: 'h2', at, policy: 'default@1', error: 'unbound x' },
    ];
    expect(decodeEvent(eventCatalog, 'telemetry', 'UnchangedIntervalsRecorded', 1, { entries })).toMatchObject({ ok: true });
  });

  it('upcasts a schema 1 decision (the whole input) to a schema 2 keyframe, and reads schema 2 as written', () => {
    const up = decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, decision);
    expect(up).toMatchObject({
      ok: true,
      upcastFrom: 1,
      data: {
        controls: decision.controls,
        input: {
          base: null,
          depth: 0,
          stats: { host: ['mem_free'], guest: ['balloon_cur', 'balloon_max'] },
          mom: { host: { drop: 0, add: [[1], [2]] }, guests: [{ name: 'vm-1', history: { drop: 0, add: [[1024, 1024]] } }] },
        },
      },
    });
    const v2 = up.ok ? up.data : undefined;
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 2, v2)).toEqual({ ok: true, type: 'DecisionRecorded', data: v2 });
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, { ...decision, input: { host: [] } })).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/upcasting DecisionRecorded from version 1 failed: input/) as string,
    });
    const delta = { ...(v2 as object), input: { ...(v2 as { input: object }).input, base: 'not-an-id', depth: 1 } };
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 2, delta)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/input\.base/) as string,
    });
  });

  it('refuses a control it does not know and a clamp without its rule, naming the field', () => {
    const badControl = { ...decision, controls: [{ kind: 'reboot', vmId: 'vm-1' }] };
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, badControl)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/^invalid DecisionRecorded v2 data: controls\.0/) as string,
    });
    const badClamp = { ...decision, clamps: [{ vmId: 'vm-1', control: 'balloon_target', decided: 1, applied: null }] };
    expect(decodeEvent(eventCatalog, 'telemetry', 'DecisionRecorded', 1, badClamp)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/clamps\.0\.rule/) as string,
    });
  });
});
