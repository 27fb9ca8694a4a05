import { inventoryV1 } from '@berth/contracts';
import { unary } from '../grpc.ts';
import { formatBytes, keyValue, table } from '../render/table.ts';
import { UsageError } from '../errors.ts';
import { bytes, int } from '../values.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec, type Input } from './types.ts';

const projectJson = (p: inventoryV1.Project | undefined) => (p ? inventoryV1.Project.toJSON(p) : null);

/** `8 / 16`, or `8 / -` when the limit is unset (unlimited). */
const of = (used: number, limit: number | undefined, format: (n: number) => string = String) =>
  `${format(used)} / ${limit === undefined ? '-' : format(limit)}`;

function devicesText(p: inventoryV1.Project): string {
  const types = [...new Set([...Object.keys(p.quota?.devices ?? {}), ...Object.keys(p.usage?.devices ?? {})])].sort();
  return types.map((t) => `${t} ${of(p.usage?.devices[t] ?? 0, p.quota?.devices[t])}`).join(', ');
}

export function projectDetails(p: inventoryV1.Project): string {
  const q = p.quota;
  const u = p.usage;
  return keyValue([
    ['name', p.name],
    ['description', p.description],
    ['vms', of(u?.vms ?? 0, q?.vms)],
    ['vcpus', of(u?.vcpus ?? 0, q?.vcpus)],
    ['memory', of(u?.memoryBytes ?? 0, q?.memoryBytes, formatBytes)],
    ['devices', devicesText(p)],
    ['identities', p.identities.join(', ')],
  ]);
}

/** `--device gpu=2` (repeatable): a limit per device type. */
function deviceLimits(input: Input): Record<string, number> {
  const out: Record<string, number> = {};
  for (const text of input.list('device')) {
    const [type, count, ...extra] = text.split('=');
    if (!type || count === undefined || extra.length > 0) throw new UsageError('--device', `expected TYPE=COUNT, got "${text}"`);
    out[type] = int(count, '--device');
  }
  return out;
}

/** Projects own VMs and carry quotas; client identities are bound to the projects whose VMs they see (operators). */
export const projectCommands: readonly CommandSpec[] = [
  {
    words: ['projects', 'create'],
    args: ['NAME'],
    summary: 'create a project (1-63 of a-z, 0-9 and -; unlimited until a quota is set)',
    options: { description: { type: 'string', value: 'TEXT', help: 'what the project is for' }, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const request = { meta: commandMeta(input, ctx), name: input.arg('NAME'), description: input.string('description') ?? '' };
      const res = await unary(ctx.backends.inventory(), 'createProject', request, ctx.timeoutMillis);
      return { json: projectJson(res.project), text: `project ${input.arg('NAME')} created` };
    },
  },
  {
    words: ['projects', 'list'],
    args: [],
    summary: 'list projects with their usage and quotas (USED / LIMIT, - = unlimited)',
    options: {},
    async run(_input, ctx) {
      const res = await unary(ctx.backends.inventory(), 'listProjects', {}, ctx.timeoutMillis);
      const rows = res.projects.map((p) => [
        p.name,
        of(p.usage?.vms ?? 0, p.quota?.vms),
        of(p.usage?.vcpus ?? 0, p.quota?.vcpus),
        of(p.usage?.memoryBytes ?? 0, p.quota?.memoryBytes, formatBytes),
        devicesText(p) || '-',
        String(p.identities.length),
      ]);
      return {
        json: res.projects.map((p) => inventoryV1.Project.toJSON(p)),
        text: table(['NAME', 'VMS', 'VCPUS', 'MEMORY', 'DEVICES', 'IDENTITIES'], rows),
      };
    },
  },
  {
    words: ['projects', 'show'],
    args: ['NAME'],
    summary: 'show a project: usage (read from the log now), quota, bound identities',
    options: {},
    async run(input, ctx) {
      const res = await unary(ctx.backends.inventory(), 'getProject', { name: input.arg('NAME') }, ctx.timeoutMillis);
      return { json: projectJson(res.project), text: res.project ? projectDetails(res.project) : '' };
    },
  },
  {
    words: ['projects', 'set-quota'],
    args: ['NAME'],
    summary: "replace a project's quota (a limit not given is unlimited; existing VMs above it stay)",
    options: {
      vms: { type: 'string', value: 'N', help: 'VMs at most' },
      vcpus: { type: 'string', value: 'N', help: 'vCPUs at most, over all its VMs' },
      memory: { type: 'string', value: 'SIZE', help: 'memory at most, e.g. 64GiB' },
      device: { type: 'string', multiple: true, value: 'TYPE=N', help: 'devices of a type at most, e.g. gpu=2 (repeatable)' },
      ...COMMAND_ID_OPTION,
    },
    async run(input, ctx) {
      const vms = input.string('vms');
      const vcpus = input.string('vcpus');
      const memory = input.string('memory');
      const quota: inventoryV1.ProjectQuota = {
        ...(vms === undefined ? {} : { vms: int(vms, '--vms') }),
        ...(vcpus === undefined ? {} : { vcpus: int(vcpus, '--vcpus') }),
        ...(memory === undefined ? {} : { memoryBytes: bytes(memory, '--memory') }),
        devices: deviceLimits(input),
      };
      const request = { meta: commandMeta(input, ctx), name: input.arg('NAME'), quota };
      const res = await unary(ctx.backends.inventory(), 'setProjectQuota', request, ctx.timeoutMillis);
      return { json: projectJson(res.project), text: res.project ? projectDetails(res.project) : '' };
    },
  },
  {
    words: ['projects', 'bind'],
    args: ['NAME', 'IDENTITY'],
    summary: "let a client identity (e.g. spiffe://berth/client/acme) see and act on the project's VMs",
    options: { ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const request = { meta: commandMeta(input, ctx), identity: input.arg('IDENTITY'), project: input.arg('NAME') };
      const res = await unary(ctx.backends.inventory(), 'bindIdentity', request, ctx.timeoutMillis);
      return {
        json: { identity: request.identity, projects: res.projects },
        text: `${request.identity} is bound to ${res.projects.join(', ')}`,
      };
    },
  },
  {
    words: ['projects', 'unbind'],
    args: ['NAME', 'IDENTITY'],
    summary: "take the project's VMs away from a client identity",
    options: { ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const request = { meta: commandMeta(input, ctx), identity: input.arg('IDENTITY'), project: input.arg('NAME') };
      const res = await unary(ctx.backends.inventory(), 'unbindIdentity', request, ctx.timeoutMillis);
      const left = res.projects.length > 0 ? res.projects.join(', ') : 'no project';
      return { json: { identity: request.identity, projects: res.projects }, text: `${request.identity} is bound to ${left}` };
    },
  },
];
