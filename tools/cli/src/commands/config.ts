import { inventoryV1, modelV1 } from '@berth/contracts';
import { parseHardwareConfig, readIncludeFromDisk } from '@berth/hardware-config';
import { UsageError } from '../errors.ts';
import { unary } from '../grpc.ts';
import { formatBytes, section, table } from '../render/table.ts';
import { encodeHardwareConfig } from '@berth/model-codec';
import { describeCurve } from '../spec/hardware-config.ts';
import { COMMAND_ID_OPTION, commandMeta, type CommandSpec } from './types.ts';

export function hardwareConfigText(config: modelV1.HardwareConfig): string {
  const functions = table(
    ['COST FUNCTION', 'NAME', 'VMS', 'VCPUS', 'MEMORY', 'DEVICES', 'SCALE', 'OFFSET'],
    config.costFunctions.map((f) => [
      f.id,
      f.name,
      describeCurve(f.vms),
      describeCurve(f.vcpus),
      describeCurve(f.memory, formatBytes),
      Object.entries(f.devices)
        .map(([type, c]) => `${type}: ${describeCurve(c)}`)
        .join('; ') || '-',
      String(f.scale ?? 1),
      String(f.offset ?? 0),
    ]),
  );
  const profiles = table(
    ['PROFILE', 'NAME', 'CORES', 'MEMORY', 'DEVICES', 'COST FUNCTION'],
    config.hardwareProfiles.map((p) => [
      p.id,
      p.name,
      String(p.cores),
      formatBytes(p.memoryBytes),
      p.devices.map((d) => `${d.type}@${d.address}`).join(', ') || '-',
      p.costFunctionId,
    ]),
  );
  return [functions, section('', profiles).trimStart()].join('\n\n');
}

export const configCommands: readonly CommandSpec[] = [
  {
    words: ['config', 'apply'],
    args: ['FILE'],
    summary: 'parse a hardware configuration (HOCON, JSON or YAML) locally and apply it',
    options: { 'dry-run': { type: 'boolean', help: 'parse and show, send nothing' }, ...COMMAND_ID_OPTION },
    async run(input, ctx) {
      const file = input.arg('FILE');
      // Parsed here, so a mistake shows file:line: key before anything reaches inventory.
      const parsed = parseHardwareConfig(await ctx.readFile(file), { file, readInclude: readIncludeFromDisk });
      const config = encodeHardwareConfig(parsed);
      // Applying replaces the active configuration: an empty one would silently drop every profile.
      if (config.costFunctions.length === 0 && config.hardwareProfiles.length === 0) {
        throw new UsageError('FILE', `${file} defines no cost functions and no hardware profiles; nothing to apply`);
      }
      const realmNote = parsed.realm ? '\n(the berth.realm section is valid but not sent: inventory takes no realm settings)' : '';
      const summary = `${config.costFunctions.length} cost functions, ${config.hardwareProfiles.length} hardware profiles`;
      if (input.flag('dry-run')) {
        return {
          json: { config: modelV1.HardwareConfig.toJSON(config), applied: false },
          text: `${file}: valid (${summary}), not applied${realmNote}\n\n${hardwareConfigText(config)}`,
        };
      }
      const res = await unary(
        ctx.backends.inventory(),
        'applyHardwareConfig',
        { meta: commandMeta(input, ctx), config, source: file },
        ctx.timeoutMillis,
      );
      return {
        json: { config: modelV1.HardwareConfig.toJSON(config), applied: true, version: res.version },
        text: `applied ${file} as hardware config version ${res.version} (${summary})${realmNote}\n\n${hardwareConfigText(config)}`,
      };
    },
  },
  {
    words: ['config', 'show'],
    args: [],
    summary: 'show the hardware configuration inventory holds',
    options: {},
    async run(_input, ctx) {
      const res = await unary(ctx.backends.inventory(), 'getHardwareConfig', {}, ctx.timeoutMillis);
      const config = res.config ?? modelV1.HardwareConfig.fromPartial({});
      return {
        json: inventoryV1.GetHardwareConfigResponse.toJSON(res),
        text: `hardware config version ${res.version}\n\n${hardwareConfigText(config)}`,
      };
    },
  },
];
