import type { HypervisorDriver } from './driver.ts';
import { LibvirtDriver, type LibvirtDriverOptions } from './libvirt/libvirt-driver.ts';
import type { LxdCredentials } from './lxd/tls.ts';
import { LxdDriver } from './lxd/lxd-driver.ts';
import { isLxdUri } from './lxd/uri.ts';
import type { RemoteSimulator } from './simulator/remote-client.ts';
import type { SimulatorFleet } from './simulator/simulator.ts';

export interface DriverFactoryOptions extends Omit<LibvirtDriverOptions, 'uri'> {
  /** Serves `sim://<host>` URIs; without it such URIs are rejected. */
  readonly simulator?: SimulatorFleet;
  /** Serves `sim://<host>` URIs from a simulator daemon (when no `simulator` is given). */
  readonly remoteSimulator?: RemoteSimulator;
  /** Berth's TLS client identity for `https://` LXD hosts. */
  readonly lxdCredentials?: LxdCredentials;
}

/**
 * One driver per host URI: `sim://` goes to the simulator, `https://` and `lxd+unix://` to LXD,
 * everything else to libvirt.
 */
export function createDriver(uri: string, opts: DriverFactoryOptions = {}): HypervisorDriver {
  if (uri.startsWith('sim://')) {
    if (opts.simulator) return opts.simulator.driver(uri);
    if (opts.remoteSimulator) return opts.remoteSimulator.driver(uri);
    throw new Error(`host URI ${uri} needs a simulator fleet, none configured`);
  }
  if (isLxdUri(uri)) {
    return new LxdDriver({
      uri,
      ...(opts.lxdCredentials ? { credentials: opts.lxdCredentials } : {}),
      ...(opts.callTimeoutMillis !== undefined ? { callTimeoutMillis: opts.callTimeoutMillis } : {}),
    });
  }
  const { simulator: _s, remoteSimulator: _r, lxdCredentials: _c, ...rest } = opts;
  return new LibvirtDriver({ ...rest, uri });
}

/** Caches one driver per URI and closes them all together. */
export class DriverRegistry {
  private readonly drivers = new Map<string, HypervisorDriver>();
  constructor(private readonly make: (uri: string) => HypervisorDriver) {}
  get(uri: string): HypervisorDriver {
    let d = this.drivers.get(uri);
    if (!d) {
      d = this.make(uri);
      this.drivers.set(uri, d);
    }
    return d;
  }
  async close(): Promise<void> {
    await Promise.all([...this.drivers.values()].map((d) => d.close()));
    this.drivers.clear();
  }
}
