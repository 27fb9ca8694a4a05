import { describe, expect, it } from 'vitest';
import { hypervisorUriProblem } from './hypervisor-uri.ts';

describe('hypervisor URIs', () => {
  it.each([
    'qemu:///system',
    'qemu:///session',
    'qemu+ssh://host1/system',
    'qemu+ssh://root@host1.example.com:2222/system',
    'qemu+ssh://root@10.0.0.5/system?keyfile=/root/.ssh/id_rsa',
    'qemu+tls://host1.example.com/system',
    'qemu+unix:///session?socket=/tmp/h2/run/libvirt/libvirt-sock',
    'test:///default',
    'test:///tmp/hosts/host-a.xml',
    'test+unix:///default?socket=/tmp/berth/libvirt-sock',
    'test+tcp://127.0.0.1:16509/default',
    'https://lxd1.example.com:8443',
    `https://10.0.0.7:8443?fingerprint=${'ab'.repeat(32)}`,
    `https://lxd1:8443/?fingerprint=${'ab'.repeat(32)}&instance-type=container&image=busybox&project=p1`,
    'lxd+unix:///var/snap/lxd/common/lxd/unix.socket',
    'lxd+unix:///tmp/berth-lxd-x/unix.socket?instance-type=container&image=berth-busybox',
    'sim://rack1-host3',
  ])('accepts %s', (uri) => {
    expect(hypervisorUriProblem(uri)).toBeUndefined();
  });

  it.each([
    '',
    'qemu://system',
    'qemu+ssh:///system',
    'qemu+ssh://root@host1:99999/system',
    'qemu+ftp://host/system',
    'test:///relative.txt',
    'http://lxd1:8443',
    'https://lxd1:8443?fingerprint=abc',
    'https://lxd1:8443?instance-type=vm',
    'https://lxd1:8443?token=secret',
    'lxd+unix://relative/unix.socket',
    'sim://',
    'qemu:///system; rm -rf /',
  ])('refuses %s', (uri) => {
    expect(hypervisorUriProblem(uri)).toBeTypeOf('string');
  });
});
