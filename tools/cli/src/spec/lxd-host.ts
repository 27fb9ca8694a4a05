import { modelV1 } from '@berth/contracts';
import { enrollWithTrustToken, isLxdUri, LxdDriver, type HostFacts, type LxdCredentials } from '@berth/hypervisor';
import { UsageError } from '../errors.ts';
import type { Input, OptionSpec } from '../commands/types.ts';

/** `berth hosts add` options for LXD hosts (https:// or lxd+unix:// URIs). */
export const LXD_HOST_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  'lxd-trust-token': {
    type: 'string',
    value: 'TOKEN',
    help: 'LXD trust token (`lxc config trust add`): has the host trust --lxd-cert and pins its certificate in the URI',
  },
  'lxd-cert': {
    type: 'string',
    value: 'FILE',
    help: "PEM client certificate Berth presents to https LXD hosts (the executor's EXECUTOR_LXD_CERT)",
  },
  'lxd-key': { type: 'string', value: 'FILE', help: "PEM key of --lxd-cert (the executor's EXECUTOR_LXD_KEY)" },
  'from-lxd': { type: 'boolean', help: "fill CPUs, topology, NUMA nodes, memory, GPUs and SR-IOV NICs from the LXD host's /1.0/resources" },
};

/** The host spec fields LXD's resources describe (options given on the command line win). */
export function applyHostFacts(spec: modelV1.HostSpec, f: HostFacts, input: Input): modelV1.HostSpec {
  const out = { ...spec };
  if (input.string('cpus') === undefined) out.cpus = f.cpus;
  if (input.string('memory') === undefined) out.memoryBytes = f.memoryBytes;
  if (input.string('cpu-model') === undefined) out.cpuModel = f.cpuModel;
  if (input.string('topology') === undefined) out.topology = { ...f.topology };
  if (input.list('numa').length === 0) {
    out.numaNodes = f.numaNodes.map((n) => ({
      id: n.id,
      cpus: [...n.cpus],
      memoryBytes: n.memoryBytes,
      hugepages: n.hugepages.map((h) => ({ pageSizeBytes: h.pageSizeBytes, total: h.total })),
    }));
  }
  if (input.list('device').length === 0) out.pciDevices = (f.gpus ?? []).map((g) => ({ type: 'gpu', address: g.address }));
  if (input.list('sriov').length === 0)
    out.sriovNics = (f.sriovNics ?? []).map((n) => ({ name: n.name, numaNode: 0, vfsTotal: n.vfs, networks: [] }));
  return out;
}

/**
 * For an LXD URI: enrolls Berth's certificate with the trust token (the URI gains the pinned
 * `fingerprint=`), and reads the host's facts when asked. Other URIs pass through untouched.
 */
export async function prepareLxdHost(
  spec: modelV1.HostSpec,
  input: Input,
  readFile: (path: string) => Promise<string>,
  timeoutMillis: number,
): Promise<{ spec: modelV1.HostSpec; notes: string[] }> {
  const token = input.string('lxd-trust-token');
  const fromLxd = input.flag('from-lxd');
  const uri = spec.hypervisorUri;
  if (!isLxdUri(uri)) {
    if (token !== undefined || fromLxd)
      throw new UsageError(
        token !== undefined ? '--lxd-trust-token' : '--from-lxd',
        `needs an LXD URI (https://host:8443 or lxd+unix:///path), got "${uri}"`,
      );
    return { spec, notes: [] };
  }
  if (token === undefined && !fromLxd) return { spec, notes: [] };
  const certFile = input.string('lxd-cert');
  const keyFile = input.string('lxd-key');
  let credentials: LxdCredentials | undefined;
  if (uri.startsWith('https://')) {
    if (certFile === undefined || keyFile === undefined)
      throw new UsageError('--lxd-cert', "an https LXD host needs --lxd-cert and --lxd-key (Berth's client identity)");
    credentials = { certPem: await readFile(certFile), keyPem: await readFile(keyFile) };
  }
  const notes: string[] = [];
  let out = spec;
  if (token !== undefined) {
    if (!credentials) throw new UsageError('--lxd-trust-token', 'trust tokens are for https LXD hosts');
    out = { ...out, hypervisorUri: await enrollWithTrustToken(uri, token, credentials, timeoutMillis) };
    notes.push(`LXD host trusts Berth's certificate; server pinned (${out.hypervisorUri})`);
  }
  if (fromLxd) {
    const driver = new LxdDriver({ uri: out.hypervisorUri, callTimeoutMillis: timeoutMillis, ...(credentials ? { credentials } : {}) });
    try {
      out = applyHostFacts(out, await driver.hostFacts(), input);
    } finally {
      await driver.close();
    }
    notes.push(`facts from LXD: ${out.cpus ?? 0} CPUs, ${out.numaNodes.length} NUMA node(s)`);
  }
  return { spec: out, notes };
}
