import { describe, expect, it } from 'vitest';
import { hostFilesEndpoint } from './telemetry-wiring.ts';

describe("EXECUTOR_HOST_FILES_SSH: where a TCP or TLS host's own files are read", () => {
  const template = 'ssh://berth@{host}:2200?keyfile=/etc/berth/k';
  it('names the URI host for libvirt over TCP or TLS', () => {
    expect(hostFilesEndpoint('qemu+tls://kvm-7.example/system', template)).toBe('ssh://berth@kvm-7.example:2200?keyfile=/etc/berth/k');
    expect(hostFilesEndpoint('qemu+tcp://10.0.0.7:16509/system', template)).toBe('ssh://berth@10.0.0.7:2200?keyfile=/etc/berth/k');
    // plain qemu://host/ is TLS
    expect(hostFilesEndpoint('qemu://kvm-7/system', template)).toBe('ssh://berth@kvm-7:2200?keyfile=/etc/berth/k');
  });
  it('nothing for hosts read otherwise (SSH in the URI, this machine, the simulator) or without the setting', () => {
    for (const uri of ['qemu+ssh://kvm-7/system', 'qemu:///system', 'qemu+unix:///system?socket=/s', 'sim://h1'])
      expect(hostFilesEndpoint(uri, template)).toBeUndefined();
    expect(hostFilesEndpoint('qemu+tls://kvm-7/system', undefined)).toBeUndefined();
  });
});
