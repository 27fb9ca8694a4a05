import { inventoryV1, modelV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { WAIT_UNTIL, waitForVm } from './watch.ts';
import { migrationModeLabel, parseVmStatus, slaTierLabel, VM_STATUSES, vmStatusLabel } from '../render/labels.ts';
import { formatBytes, keyValue, section, table } from '../render/table.ts';
import { buildVmSpec, VM_SPEC_OPTIONS, vmSpecFromJson } from '../spec/vm-spec.ts';
import { duration, oneOf } from '../values.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec } from './types.ts';

const vmJson = (vm: inventoryV1.Vm | undefined) => (vm ? inventoryV1.Vm.toJSON(vm) : null);
export function vmRows(vms: readonly inventoryV1.Vm[]): string {
  return table(
    ['ID', 'NAME', 'STATUS', 'HOST', 'VCPUS', 'MEMORY', 'SLA', 'REASON'],
    vms.map((v) => [
      v.vmId,
      v.spec?.name ?? '',
      vmStatusLabel(v.status),
      v.hostId || '-',
      String(v.spec?.vcpus ?? 0),
      formatBytes(v.spec?.memoryBytes ?? 0),
      v.spec ? slaTierLabel(v.spec.slaTier) : '',
      v.failureReason,
    ]),
  );
}

export function vmDetails(v: inventoryV1.Vm): string {
  const s = v.spec;
  const parts = [
    keyValue([
      ['id', v.vmId],
      ['name', s?.name ?? ''],
      ['project', v.project],
      ['status', vmStatusLabel(v.status)],
      ['failure', v.failureReason],
      ['host', v.hostId],
      ['vcpus', s ? `${s.vcpus}${s.cpuPolicy === modelV1.CpuPolicy.CPU_POLICY_DEDICATED ? ' (dedicated)' : ''}` : ''],
      ['memory', s ? formatBytes(s.memoryBytes) + (s.hugepageSizeBytes ? ` on ${formatBytes(s.hugepageSizeBytes)} hugepages` : '') : ''],
      ['disks', s?.disks.map((d) => `${formatBytes(d.sizeBytes)}@${d.pool || 'default'}`).join(', ') ?? ''],
      ['devices', s?.devices.map((d) => `${d.type} x${d.count}`).join(', ') ?? ''],
      ['sla', s ? `${slaTierLabel(s.slaTier)}, priority ${s.priority}` : ''],
      ['migration', s ? migrationModeLabel(s.migrationMode) : ''],
      ['tags', s?.tags.join(', ') ?? ''],
      ['allowed hosts', s?.allowedHosts.join(', ') ?? ''],
      ['attempt', v.attempt ? String(v.attempt) : ''],
      ['excluded hosts', v.excludedHosts.join(', ')],
      ['requested', v.requestedAt],
      ['updated', v.updatedAt],
    ]),
  ];
  const c = v.claim;
  if (c) {
    parts.push(
      section(
        'Claim',
        keyValue([
          ['vcpus', String(c.vcpus)],
          ['memory', formatBytes(c.memoryBytes)],
          ['pinned cpus', c.pinnedCpus.join(',')],
          [
            'numa cells',
            c.numaCells
              .map(
                (n) =>
                  `guest ${n.guestCell} -> host ${n.hostNode} (${n.vcpus || '?'} vCPUs, host cpus ${n.cpus.join(',') || '-'}, ${formatBytes(n.memoryBytes)})`,
              )
              .join('; '),
          ],
          ['hugepages', c.hugepages.map((h) => `${h.count} x ${formatBytes(h.pageSizeBytes)} on node ${h.numaNode}`).join(', ')],
          ['devices', c.devices.map((d) => `${d.type}@${d.address}`).join(', ')],
          ['vfs', c.vfs.map((f) => `${f.nic} x${f.count}`).join(', ')],
          ['volumes', c.volumes.map((vol) => `disk ${vol.diskIndex}: ${formatBytes(vol.sizeBytes)} in ${vol.pool}`).join(', ')],
        ]),
      ),
    );
  }
  return parts.join('\n');
}

export const vmCommands: readonly CommandSpec[] = [
  {
    words: ['vms', 'create'],
    args: ['NAME'],
    summary: 'compose a VM (inventory records the request; the scheduler places it)',
    options: {
      ...VM_SPEC_OPTIONS,
      id: { type: 'string', value: 'ID', help: 'VM id (default: generated)' },
      project: { type: 'string', value: 'NAME', help: "the VM's project (default: default; a client's one bound project)" },
      wait: { type: 'boolean', help: 'follow the VM until it runs (or --until placed) or fails' },
      until: { type: 'string', value: 'STATUS', help: 'with --wait: placed or running (default running)' },
      'wait-timeout': { type: 'string', value: 'DURATION', help: 'how long --wait follows (default 5m)' },
      'wait-for-capacity': {
        type: 'string',
        value: 'DURATION',
        help: 'when no host can take it, stay waiting for capacity this long (e.g. 10m; at most 7d) instead of failing at once',
      },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const file = input.string('spec');
      const base = file === undefined ? undefined : vmSpecFromJson(await ctx.readFile(file), file);
      const spec = buildVmSpec(input.arg('NAME'), input, base);
      const wait = duration(input.string('wait-timeout') ?? '5m', '--wait-timeout');
      const until = WAIT_UNTIL[oneOf(input.string('until') ?? 'running', '--until', ['placed', 'running'])];
      const capacityText = input.string('wait-for-capacity');
      const capacity = capacityText === undefined ? undefined : duration(capacityText, '--wait-for-capacity');
      const res = await unary(
        ctx.backends.inventory(),
        'composeVm',
        {
          meta: commandMeta(input, ctx),
          vmId: input.string('id') ?? '',
          project: input.string('project') ?? '',
          spec,
          ...(capacity !== undefined ? { waitForCapacityMillis: capacity } : {}),
        },
        ctx.timeoutMillis,
      );
      let vm = res.vm;
      if (input.flag('wait') && vm) vm = await waitForVm(ctx, vm, until, wait);
      return {
        json: vmJson(vm),
        text: vm
          ? `vm ${vm.vmId} (${spec.name}) ${vmStatusLabel(vm.status)}${vm.hostId ? ` on ${vm.hostId}` : ''}${vm.failureReason ? `: ${vm.failureReason}` : ''}`
          : '',
      };
    },
  },
  {
    words: ['vms', 'list'],
    args: [],
    summary: 'list VMs',
    options: {
      host: { type: 'string', value: 'HOST', help: 'only VMs on this host' },
      project: { type: 'string', value: 'NAME', help: 'only VMs of this project' },
      all: { type: 'boolean', help: 'include deleted VMs' },
      status: { type: 'string', value: 'STATUS', help: `only VMs in this status (${VM_STATUSES.join(', ')})` },
    },
    async run(input, ctx) {
      const status = input.string('status');
      const request = {
        hostId: input.string('host') ?? '',
        project: input.string('project') ?? '',
        status: status === undefined ? inventoryV1.VmStatus.VM_STATUS_UNSPECIFIED : parseVmStatus(status, '--status'),
      };
      const res = await unary(ctx.backends.inventory(), 'listVms', request, ctx.timeoutMillis);
      // Deleted VMs stay in inventory's history; they are noise in a listing unless asked for.
      const shown =
        input.flag('all') || status !== undefined ? res.vms : res.vms.filter((v) => v.status !== inventoryV1.VmStatus.VM_STATUS_DELETED);
      return { json: shown.map((v) => inventoryV1.Vm.toJSON(v)), text: vmRows(shown) };
    },
  },
  {
    words: ['vms', 'show'],
    args: ['VM'],
    summary: 'show one VM with its claim',
    options: {},
    async run(input, ctx) {
      const res = await unary(ctx.backends.inventory(), 'getVm', { vmId: input.arg('VM') }, ctx.timeoutMillis);
      return { json: vmJson(res.vm), text: res.vm ? vmDetails(res.vm) : '' };
    },
  },
  {
    words: ['vms', 'delete'],
    args: ['VM'],
    summary: 'delete a VM (its claim is released once the executor has removed it)',
    options: { ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const res = await unary(
        ctx.backends.inventory(),
        'deleteVm',
        { meta: commandMeta(input, ctx), vmId: input.arg('VM') },
        ctx.timeoutMillis,
      );
      return { json: vmJson(res.vm), text: `vm ${input.arg('VM')} ${res.vm ? vmStatusLabel(res.vm.status) : 'deleted'}` };
    },
  },
];
