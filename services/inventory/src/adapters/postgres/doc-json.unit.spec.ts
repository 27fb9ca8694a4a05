import { fits, vmSpec } from '@berth/fit';
import { describe, expect, it } from 'vitest';
import { decideHost } from '../../domain/host/decide.ts';
import { evolveHost, hostSnapshotOf, initialHost, type Host } from '../../domain/host/state.ts';
import type { VmCommand } from '../../domain/vm/commands.ts';
import { decideVm } from '../../domain/vm/decide.ts';
import { evolveVm, initialVm, type Vm } from '../../domain/vm/state.ts';
import { GiB, hostSpec, placementOn, profiles, vmSpecInput } from '../../testing/host-specs.ts';
import { hostDocJson, rowJson, snapshotJson, vmDocJson } from './doc-json.ts';

/** What the projection wrote before: plain JSON.stringify (the texts may order members differently). */
const asStringified = (v: unknown): unknown => JSON.parse(JSON.stringify(v));

describe("the read model's document JSON", () => {
  it('is JSON.stringify of every host state on the way, claims spliced from the text made the first time', () => {
    let host: Host = initialHost();
    const step = (events: ReturnType<typeof decideHost>) => {
      for (const e of events) host = evolveHost(host, e);
      expect(JSON.parse(hostDocJson(host))).toEqual(asStringified(host));
      if (host.status === 'active') expect(JSON.parse(snapshotJson(hostSnapshotOf(host)))).toEqual(asStringified(hostSnapshotOf(host)));
    };
    step(decideHost({ type: 'RegisterHost', hostId: 'h1', spec: hostSpec(), initialState: 'enabled', profiles }, host));
    for (let i = 0; i < 4; i++) {
      if (host.status !== 'active') throw new Error('host not active');
      const fit = fits(hostSnapshotOf(host), vmSpec({ vmId: `vm${i}`, vcpus: 1, memoryBytes: GiB }));
      if (!fit.ok) throw new Error('no fit');
      step(decideHost({ type: 'ClaimResources', claim: fit.claim, expectedGeneration: host.generation }, host));
    }
    for (const vmId of ['vm1', 'vm0', 'vm2', 'vm3']) step(decideHost({ type: 'ReleaseClaim', vmId, reason: 'deleted' }, host));
    step(decideHost({ type: 'RemoveHost', reason: 'retired' }, host));
    expect(hostDocJson(host)).toBe(JSON.stringify(host));
  });

  it('is JSON.stringify of every VM state on the way, and a row holds its document', () => {
    let vm: Vm = initialVm();
    const commands: VmCommand[] = [
      {
        type: 'ComposeVm',
        vmId: 'vm1',
        project: 'default',
        spec: vmSpecInput(),
        knownPools: new Set(),
        waitForCapacityMillis: 0,
        now: '2026-12-07T10:00:00.000Z',
      },
      {
        type: 'PlaceVm',
        placement: placementOn('h1', { summary: 'best of 3', scores: [{ hostId: 'h1', score: 0.5 }] }),
      },
      { type: 'RecordProvisioning', hostId: 'h1' },
      { type: 'RecordStarted', hostId: 'h1' },
      { type: 'DeleteVm' },
    ];
    expect(vmDocJson(vm)).toBe(JSON.stringify(vm));
    for (const c of commands) {
      for (const e of decideVm(c, vm)) vm = evolveVm(vm, e);
      expect(JSON.parse(vmDocJson(vm))).toEqual(asStringified(vm));
      const row = { vm_id: 'vm1', name: 'web-1', status: vm.status, host_id: null, project: 'default' };
      expect(JSON.parse(rowJson(row, vmDocJson(vm)))).toEqual(asStringified({ ...row, doc: vm }));
    }
    expect(vm.status).toBe('deleting');
  });
});
