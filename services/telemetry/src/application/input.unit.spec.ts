import { describe, expect, it } from 'vitest';
import { momEngine } from '../adapters/mom/engine.ts';
import { SampleHistory } from './history.ts';
import { buildInput } from './input.ts';
import { runInterval } from './interval.ts';

const GiB = 1024 * 1024; // KiB
const caps = { hostMemory: true, ksmStats: true, ksmRun: false, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
// What libvirt reports of a host over TCP or TLS: no swap, anon pages, ksm_run or ksmd.
const fromLibvirt = {
  mem_available: 16 * GiB,
  mem_unused: 2 * GiB,
  mem_free: 2 * GiB,
  ksm_pages_to_scan: 100,
  ksm_sleep_millisecs: 10,
  ksm_pages_shared: 0,
  ksm_pages_sharing: 0,
  ksm_pages_unshared: 0,
  ksm_pages_volatile: 0,
  ksm_full_scans: 0,
  ksm_merge_across_nodes: 1,
  ksm_shareable: 12 * GiB,
  cpu_count: 8,
};
const set = (() => {
  const c = momEngine.compile([
    { name: '00-probe.policy', text: '(defvar swap_known (valid Host.swap_usage))\n(Host.Control "ksm_pages_to_scan" 200)' },
  ]);
  if (!c.ok) throw new Error(c.message);
  return c.set;
})();

describe('a host whose own files cannot be read (capabilities.hostFiles false: libvirt over TCP or TLS)', () => {
  const inputFor = (hostFiles?: boolean) => {
    const history = new SampleHistory(10);
    const capabilities = hostFiles === undefined ? caps : { ...caps, hostFiles };
    history.add({ v: 1, hostId: 'h1', at: '', capabilities, host: fromLibvirt, guests: [] }, 0);
    return { mom: buildInput(history, 'h1', { vms: { get: () => undefined }, historyLength: 10 })!, capabilities, ioTuneApplied: {} };
  };

  it('is evaluated with the statistics MOM reads from host files optional: the policy runs, they read as None', () => {
    const input = inputFor(false);
    expect(input.mom.config).toEqual({ history_length: 10, host_collectors: ['HostMemoryRemote', 'HostKSMRemote', 'HostCpu'] });
    const r = runInterval(momEngine, set, input);
    expect(r.ok).toBe(true);
    expect(r.controls).toEqual([{ kind: 'ksm', pagesToScan: 200 }]);
  });

  it("any other host keeps vdsm's collectors: the same sample is not ready, as MOM", () => {
    for (const hostFiles of [undefined, true]) {
      const input = inputFor(hostFiles);
      expect(input.mom.config).toEqual({ history_length: 10 });
      expect(runInterval(momEngine, set, input)).toMatchObject({
        ok: false,
        controls: [],
        error: expect.stringMatching(
          /lacks mandatory statistics swap_in, swap_out, anon_pages, swap_total, swap_usage, ksm_run, ksmd_cpu_usage/,
        ) as unknown,
      });
    }
  });
});
