import { execFileSync } from 'node:child_process';
import { describe } from 'vitest';
import { domainName } from '../naming.ts';
import { driverContract } from '../testing/contract.ts';
import { libvirtUsable, startTestLibvirtd } from '../testing/libvirtd.ts';
import { LibvirtDriver } from './libvirt-driver.ts';

// The same contract as the LXD driver and the simulator, against libvirt's built-in test driver.
describe.skipIf(!libvirtUsable())('LibvirtDriver keeps the driver contract', () => {
  driverContract('libvirt test driver', async () => {
    const daemon = await startTestLibvirtd('contract');
    const driver = new LibvirtDriver({ uri: daemon.uri, pollMillis: 50 });
    return {
      driver,
      pool: 'default-pool',
      domainName,
      volumes: async () =>
        execFileSync('virsh', ['-q', '-c', daemon.uri, 'vol-list', 'default-pool'], { encoding: 'utf8' })
          .split('\n')
          .map((l) => l.trim().split(/\s+/)[0] ?? '')
          .filter(Boolean),
      isVolumeOf: (vmId, v) => v.startsWith(`${domainName(vmId)}-disk`),
      cleanup: async () => {
        await driver.close();
        await daemon.stop();
      },
    };
  });
});
