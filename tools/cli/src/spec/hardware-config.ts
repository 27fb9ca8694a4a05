import { inventoryV1 } from '@berth/contracts';
import type { CostFunctionSpec, CurveSpec, HardwareConfig, HardwareProfile } from '@berth/hardware-config';

/** The parsed configuration as the ApplyHardwareConfig message (bytes already numbers of bytes). */

export function curveToProto(c: CurveSpec): inventoryV1.Curve {
  const base: inventoryV1.Curve = { curve: c.curve, scale: c.scale, ...(c.max !== undefined && { max: c.max }) };
  switch (c.curve) {
    case 'constant':
      return { ...base, value: c.value };
    case 'invalid':
    case 'unavailable':
      return base;
    case 'linear':
      return { ...base, slope: c.slope, base: c.base };
    case 'hard-soft':
      return { ...base, soft: c.soft, hard: c.hard, softAmt: c.softAmt, hardAmt: c.hardAmt };
    case 'piecewise':
      return { ...base, cutoff: c.cutoff, low: curveToProto(c.low), high: curveToProto(c.high) };
  }
}

function costFunctionToProto(f: CostFunctionSpec): inventoryV1.CostFunction {
  return {
    id: f.id,
    name: f.name,
    description: f.description,
    ...(f.vms && { vms: curveToProto(f.vms) }),
    ...(f.vcpus && { vcpus: curveToProto(f.vcpus) }),
    ...(f.memory && { memory: curveToProto(f.memory) }),
    devices: Object.fromEntries(Object.entries(f.devices).map(([type, curve]) => [type, curveToProto(curve)])),
    scale: f.scale,
    offset: f.offset,
  };
}

function profileToProto(p: HardwareProfile): inventoryV1.HardwareProfile {
  return {
    id: p.id,
    name: p.name,
    description: p.description,
    cores: p.cores,
    memoryBytes: p.memoryBytes,
    devices: p.devices.map((d) => ({ type: d.type, address: d.address })),
    costFunctionId: p.costFunction,
  };
}

export function hardwareConfigToProto(config: HardwareConfig): inventoryV1.HardwareConfig {
  return {
    costFunctions: Object.values(config.costFunctions).map(costFunctionToProto),
    hardwareProfiles: Object.values(config.profiles).map(profileToProto),
  };
}

/** One line per curve for humans: `hard-soft 16 GiB..32 GiB x10`. */
export function describeCurve(c: inventoryV1.Curve | undefined, bytes: (n: number) => string = String): string {
  if (!c) return '-';
  const extras = `${c.scale !== undefined && c.scale !== 1 ? ` x${c.scale}` : ''}${c.max !== undefined ? ` max ${c.max}` : ''}`;
  switch (c.curve) {
    case 'constant':
      return `constant ${c.value ?? 0}${extras}`;
    case 'linear':
      return `linear ${bytes(c.slope ?? 0)}*n+${bytes(c.base ?? 0)}${extras}`;
    case 'hard-soft':
      return `hard-soft ${bytes(c.soft ?? 0)}:${c.softAmt ?? 1} ${bytes(c.hard ?? 0)}:${c.hardAmt ?? 10}${extras}`;
    case 'piecewise':
      return `piecewise <=${bytes(c.cutoff ?? 0)} ${describeCurve(c.low, bytes)} else ${describeCurve(c.high, bytes)}${extras}`;
    default:
      return `${c.curve}${extras}`;
  }
}
