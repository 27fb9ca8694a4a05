import { inventoryV1, modelV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { formatBytes, keyValue, ratio, section, table } from '../render/table.ts';
import { HOST_STATES, hostStateLabel, parseHostState } from '../render/labels.ts';
import { buildHostSpec, HOST_SPEC_OPTIONS, hostSpecFromJson } from '../spec/host-spec.ts';
import { LXD_HOST_OPTIONS, prepareLxdHost } from '../spec/lxd-host.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec } from './types.ts';

const hostJson = (host: inventoryV1.Host | undefined) => (host ? inventoryV1.Host.toJSON(host) : null);

export function hostRows(hosts: readonly inventoryV1.Host[]): string {
  return table(
    ['ID', 'NAME', 'STATE', 'PROFILE', 'VCPUS', 'MEMORY', 'VMS', 'GEN', 'URI'],
    hosts.map((h) => [
      h.hostId,
      h.spec?.name ?? '',
      hostStateLabel(h.state),
      h.spec?.profileId || '-',
      ratio(h.usage?.vcpusUsed ?? 0, h.usage?.vcpusAllocatable ?? 0),
      ratio(h.usage?.memoryUsedBytes ?? 0, h.usage?.memoryAllocatableBytes ?? 0, formatBytes),
      String(h.usage?.vmCount ?? 0),
      String(h.generation),
      h.spec?.hypervisorUri ?? '',
    ]),
  );
}

export function hostDetails(h: inventoryV1.Host): string {
  const spec = h.spec;
  const usage = h.usage;
  const topo = spec?.topology;
  const parts = [
    keyValue([
      ['id', h.hostId],
      ['name', spec?.name ?? ''],
      ['state', hostStateLabel(h.state) + (h.stateReason ? ` (${h.stateReason})` : '')],
      ['uri', spec?.hypervisorUri ?? ''],
      ['profile', spec?.profileId ?? ''],
      ['generation', String(h.generation)],
      ['cpu model', spec?.cpuModel ?? ''],
      ['topology', topo ? `${topo.sockets} sockets x ${topo.coresPerSocket} cores x ${topo.threadsPerCore} threads` : ''],
      ['overcommit', `cpu ${spec?.cpuOvercommit ?? 1}, memory ${spec?.memoryOvercommit ?? 1}`],
      ['vcpus', ratio(usage?.vcpusUsed ?? 0, usage?.vcpusAllocatable ?? 0) + ' used'],
      ['memory', ratio(usage?.memoryUsedBytes ?? 0, usage?.memoryAllocatableBytes ?? 0, formatBytes) + ' used'],
      ['vms', String(usage?.vmCount ?? 0)],
      ['resource pool', spec?.resourcePool ?? ''],
      ['tags', spec?.tags.join(', ') ?? ''],
      ['address translation', spec?.addressTranslation ? `${spec.addressTranslation.address}:${spec.addressTranslation.basePort}+` : ''],
    ]),
  ];
  if (usage?.numaNodes.length) {
    parts.push(
      section(
        'NUMA nodes',
        table(
          ['NODE', 'CPUS PINNED', 'MEMORY USED', 'HUGEPAGES USED', 'VMS'],
          usage.numaNodes.map((n) => [
            String(n.id),
            ratio(n.cpusPinned, n.cpusTotal),
            ratio(n.memoryUsedBytes, n.memoryBytes, formatBytes),
            n.hugepages.map((p) => `${formatBytes(p.pageSizeBytes)}: ${p.used}/${p.total}`).join(', ') || '-',
            String(n.vmCount),
          ]),
        ),
      ),
    );
  }
  if (usage?.storagePools.length) {
    parts.push(
      section(
        'Storage pools',
        table(
          ['POOL', 'TOTAL', 'USED', 'AVAILABLE', 'DEFAULT'],
          usage.storagePools.map((p) => [
            p.name,
            formatBytes(p.totalBytes),
            formatBytes(p.usedBytes),
            formatBytes(p.availableBytes),
            p.isDefault ? 'yes' : '',
          ]),
        ),
      ),
    );
  }
  if (usage?.devices.length) {
    parts.push(
      section(
        'PCI devices',
        table(
          ['TYPE', 'ADDRESS', 'VM'],
          usage.devices.map((d) => [d.type, d.address, d.vmId || '-']),
        ),
      ),
    );
  }
  if (usage?.vfs.length) {
    parts.push(
      section(
        'SR-IOV VFs',
        table(
          ['NIC', 'USED'],
          usage.vfs.map((v) => [v.nic, ratio(v.used, v.total)]),
        ),
      ),
    );
  }
  if (h.claims.length) {
    parts.push(
      section(
        'Claims',
        table(
          ['VM', 'VCPUS', 'MEMORY', 'PINNED CPUS', 'DEVICES'],
          h.claims.map((c) => [
            c.vmId,
            String(c.vcpus),
            formatBytes(c.memoryBytes),
            c.pinnedCpus.join(',') || '-',
            c.devices.map((d) => d.address).join(', ') || '-',
          ]),
        ),
      ),
    );
  }
  return parts.join('\n');
}

export const hostCommands: readonly CommandSpec[] = [
  {
    words: ['hosts', 'add'],
    args: ['NAME'],
    summary: 'register a host',
    options: {
      ...HOST_SPEC_OPTIONS,
      ...LXD_HOST_OPTIONS,
      id: { type: 'string', value: 'ID', help: 'host id ([a-z0-9-]; default: generated)' },
      state: { type: 'string', value: 'STATE', help: `initial state: ${HOST_STATES.join(', ')} (default enabled)` },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const file = input.string('spec');
      const base = file === undefined ? undefined : hostSpecFromJson(await ctx.readFile(file), file);
      const { spec, notes } = await prepareLxdHost(
        buildHostSpec(input.arg('NAME'), input, base),
        input,
        (path) => ctx.readFile(path),
        ctx.timeoutMillis,
      );
      for (const n of notes) ctx.progress(n);
      const state = input.string('state');
      const request = {
        meta: commandMeta(input, ctx),
        hostId: input.string('id') ?? '',
        spec,
        state: state === undefined ? modelV1.HostState.HOST_STATE_UNSPECIFIED : parseHostState(state, '--state'),
      };
      const res = await unary(ctx.backends.inventory(), 'registerHost', request, ctx.timeoutMillis);
      return {
        json: hostJson(res.host),
        text: `host ${res.host?.hostId ?? '?'} (${spec.name}) registered, ${hostStateLabel(res.host?.state ?? 0)}`,
      };
    },
  },
  {
    words: ['hosts', 'list'],
    args: [],
    summary: 'list hosts with their usage',
    options: {
      state: { type: 'string', value: 'STATE', help: 'only hosts in this state' },
      'resource-pool': { type: 'string', value: 'POOL', help: 'only hosts of this resource pool' },
      tag: { type: 'string', value: 'TAG', help: 'only hosts with this tag' },
    },
    async run(input, ctx) {
      const state = input.string('state');
      const request = {
        state: state === undefined ? modelV1.HostState.HOST_STATE_UNSPECIFIED : parseHostState(state, '--state'),
        resourcePool: input.string('resource-pool') ?? '',
        tag: input.string('tag') ?? '',
      };
      const res = await unary(ctx.backends.inventory(), 'listHosts', request, ctx.timeoutMillis);
      return { json: res.hosts.map((h) => inventoryV1.Host.toJSON(h)), text: hostRows(res.hosts) };
    },
  },
  {
    words: ['hosts', 'show'],
    args: ['HOST'],
    summary: 'show one host: spec, usage per NUMA node, storage pool, device and VF, and its claims',
    options: {},
    async run(input, ctx) {
      const res = await unary(ctx.backends.inventory(), 'getHost', { hostId: input.arg('HOST') }, ctx.timeoutMillis);
      return { json: hostJson(res.host), text: res.host ? hostDetails(res.host) : '' };
    },
  },
  {
    words: ['hosts', 'state'],
    args: ['HOST', 'STATE'],
    summary: `set a host's state (${HOST_STATES.join(', ')})`,
    options: { reason: { type: 'string', value: 'TEXT', help: 'why (kept with the host)' }, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const request = {
        meta: commandMeta(input, ctx),
        hostId: input.arg('HOST'),
        state: parseHostState(input.arg('STATE'), 'STATE'),
        reason: input.string('reason') ?? '',
      };
      const res = await unary(ctx.backends.inventory(), 'setHostState', request, ctx.timeoutMillis);
      return { json: hostJson(res.host), text: `host ${input.arg('HOST')} is ${hostStateLabel(res.host?.state ?? 0)}` };
    },
  },
  {
    words: ['hosts', 'remove'],
    args: ['HOST'],
    summary: 'remove a host (it must hold no claims)',
    options: { ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      await unary(ctx.backends.inventory(), 'removeHost', { meta: commandMeta(input, ctx), hostId: input.arg('HOST') }, ctx.timeoutMillis);
      return { json: { hostId: input.arg('HOST'), removed: true }, text: `host ${input.arg('HOST')} removed` };
    },
  },
];
