import type { FitFailure } from './failures.ts';
import type { HostUsage } from './usage.ts';
import type { HostCapacity, NetworkRef, VmSpec } from './model.ts';

function ipv4(text: string): number | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let n = 0;
  for (const p of parts) {
    const v = /^\d{1,3}$/.test(p) ? Number(p) : NaN;
    if (!(v >= 0 && v <= 255)) return undefined;
    n = n * 256 + v;
  }
  return n;
}

/** Is `ip` inside the IPv4 CIDR `subnet` (e.g. 10.0.0.0/24)? Anything unparsable: no. */
export function ipInSubnet(ip: string, subnet: string): boolean {
  const [base = '', bitsText = ''] = subnet.split('/');
  const addr = ipv4(ip);
  const net = ipv4(base);
  const bits = Number(bitsText);
  if (addr === undefined || net === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(addr / size) === Math.floor(net / size);
}

/**
 * A requested network matches an offered one when every field the request names is equal; a
 * requested IP address must lie in the offered subnet (MAAS: space, subnet, VLAN or IP address).
 */
export function networkMatches(wanted: NetworkRef & { readonly ip?: string }, offered: NetworkRef): boolean {
  return (
    (wanted.space === undefined || wanted.space === offered.space) &&
    (wanted.subnet === undefined || wanted.subnet === offered.subnet) &&
    (wanted.vlan === undefined || wanted.vlan === offered.vlan) &&
    (wanted.ip === undefined || (offered.subnet !== undefined && ipInSubnet(wanted.ip, offered.subnet)))
  );
}

export function describeNetwork(n: NetworkRef & { readonly ip?: string }): string {
  const parts: string[] = [];
  if (n.ip !== undefined) parts.push(`ip ${n.ip}`);
  if (n.space !== undefined) parts.push(`space ${n.space}`);
  if (n.subnet !== undefined) parts.push(`subnet ${n.subnet}`);
  if (n.vlan !== undefined) parts.push(`vlan ${n.vlan}`);
  return parts.length > 0 ? parts.join('/') : 'any network';
}

/**
 * The filters that need no resource arithmetic: state, allowed hosts, resource pool, CPU model,
 * hard affinity and (non-SR-IOV) network reachability. Returns the failures in filter order.
 */
export function hostFilters(host: HostCapacity, u: HostUsage, vm: VmSpec): FitFailure[] {
  const out: FitFailure[] = [];
  if (host.state !== 'enabled') {
    out.push({ filter: 'state', detail: `host ${host.name} is ${host.state}`, subject: host.state });
  }
  if (vm.allowedHosts.length > 0 && !vm.allowedHosts.includes(host.hostId) && !vm.allowedHosts.includes(host.name)) {
    out.push({ filter: 'allowed-hosts', detail: `${host.name} is not among the VM's allowed hosts` });
  }
  if (vm.resourcePool !== undefined && vm.resourcePool !== host.resourcePool) {
    out.push({
      filter: 'resource-pool',
      detail: `host is in resource pool ${host.resourcePool}, the VM asks for ${vm.resourcePool}`,
      subject: vm.resourcePool,
    });
  }
  if (vm.passthroughCpu && vm.cpuModel !== undefined && vm.cpuModel.toLowerCase() !== host.cpuModel.toLowerCase()) {
    out.push({
      filter: 'cpu-model',
      detail: `pass-through CPU needs ${vm.cpuModel}, host has ${host.cpuModel}`,
      subject: vm.cpuModel,
    });
  }
  for (const rule of vm.affinity) {
    if (rule.enforcement !== 'hard') continue;
    if (rule.target === 'host') {
      const listed = rule.hosts.includes(host.hostId) || rule.hosts.includes(host.name);
      if (rule.polarity === 'affinity' ? !listed : listed) {
        out.push({
          filter: 'affinity',
          detail: `hard host ${rule.polarity} of group ${rule.group} ${listed ? 'excludes' : 'does not list'} ${host.name}`,
          subject: rule.group,
        });
      }
    } else if (rule.polarity === 'anti-affinity' && (u.affinityGroups.get(rule.group) ?? 0) > 0) {
      // VM-to-VM hard affinity needs the whole fleet (where the group already runs): the scheduler decides it.
      out.push({ filter: 'affinity', detail: `a VM of anti-affinity group ${rule.group} already runs here`, subject: rule.group });
    }
  }
  for (const nic of vm.nics) {
    if (nic.sriov || nic.network === undefined) continue;
    const wanted = nic.network;
    if (!host.networks.some((n) => networkMatches(wanted, n))) {
      out.push({ filter: 'network', detail: `host does not reach ${describeNetwork(wanted)}`, subject: describeNetwork(wanted) });
    }
  }
  return out;
}
