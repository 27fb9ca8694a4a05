import { describe, expect, it } from 'vitest';
import { classifyVirshError } from './virsh.ts';
import { parseDommemstat, parseDomstatsStates, parseEventLine } from './parse.ts';

describe('virsh output parsing', () => {
  it('reads domstats states', () => {
    expect(
      parseDomstatsStates("Domain: 'test'\n  state.state=1\n  state.reason=1\n\nDomain: 'berth-a'\n  state.state=5\n  state.reason=1\n"),
    ).toEqual([
      { name: 'test', state: 'running' },
      { name: 'berth-a', state: 'shut-off' },
    ]);
  });

  it('converts dommemstat KiB to bytes and keeps counters as counts', () => {
    const s = parseDommemstat('actual 524288\nswap_in 0\nmajor_fault 7\nunused 262144\nrss 41816\n');
    expect(s).toEqual({ actualBytes: 524288 * 1024, swapInBytes: 0, majorFaults: 7, unusedBytes: 262144 * 1024, rssBytes: 41816 * 1024 });
  });

  it('reads lifecycle events and names the VM of Berth domains', () => {
    expect(parseEventLine("event 'lifecycle' for domain 'berth-vm-1': Started Booted")).toEqual({
      domain: 'berth-vm-1',
      vmId: 'vm-1',
      kind: 'started',
      detail: 'Started Booted',
    });
    expect(parseEventLine("event 'reboot' for domain 'x'")).toEqual({ domain: 'x', kind: 'other', detail: 'reboot' });
    expect(parseEventLine('garbage')).toBeUndefined();
  });

  it('classifies connection problems as transient and refusals as permanent', () => {
    expect(classifyVirshError('error: failed to connect to the hypervisor\nerror: Connection refused')).toBe('transient');
    expect(classifyVirshError("error: failed to get domain 'x'")).toBe('not-found');
    expect(classifyVirshError('error: unsupported configuration: hugepages are not supported')).toBe('permanent');
  });
});
