import { Violations } from '@berth/errors';
import { readCanonicalPciAddress } from '@berth/config/units';
import { modelV1 as pb } from '@berth/contracts';
import {
  CURVE_ALIASES,
  CURVE_DEFAULTS,
  type CostFunctionSpec,
  type CurveSpec,
  type HardwareConfig,
  type HardwareProfile,
} from '@berth/hardware-config';

/**
 * Proto curves -> the normalised CurveSpec, naming missing fields. Aliases and defaults come from
 * @berth/hardware-config's own tables, so a curve sent over gRPC means what the same curve in a
 * configuration file means.
 */
function decodeCurve(v: Violations, c: pb.Curve, field: string): CurveSpec | undefined {
  const scale = c.scale ?? CURVE_DEFAULTS.scale;
  const common = c.max === undefined ? { scale } : { scale, max: c.max };
  const need = (name: keyof pb.Curve, value: number | undefined): number => {
    if (value === undefined || !Number.isFinite(value)) v.add(`${field}.${name}`, `required for a ${c.curve} curve`);
    return value ?? 0;
  };
  const curve = Object.hasOwn(CURVE_ALIASES, c.curve) ? CURVE_ALIASES[c.curve] : undefined;
  switch (curve) {
    case 'constant':
      return { curve, ...common, value: need('value', c.value) };
    case 'invalid':
    case 'unavailable':
      return { curve, ...common };
    case 'linear':
      return { curve, ...common, slope: need('slope', c.slope), base: need('base', c.base) };
    case 'hard-soft':
      return {
        curve,
        ...common,
        soft: need('soft', c.soft),
        hard: need('hard', c.hard),
        softAmt: c.softAmt ?? CURVE_DEFAULTS.softAmt,
        hardAmt: c.hardAmt ?? CURVE_DEFAULTS.hardAmt,
      };
    case 'piecewise': {
      if (!c.low) v.add(`${field}.low`, 'required for a piecewise curve');
      if (!c.high) v.add(`${field}.high`, 'required for a piecewise curve');
      const low = c.low && decodeCurve(v, c.low, `${field}.low`);
      const high = c.high && decodeCurve(v, c.high, `${field}.high`);
      if (!low || !high) return undefined;
      return { curve, ...common, cutoff: need('cutoff', c.cutoff), low, high };
    }
    case undefined:
      v.add(`${field}.curve`, `unknown curve type '${c.curve}'`);
      return undefined;
  }
}

export function encodeCurve(c: CurveSpec): pb.Curve {
  const base: pb.Curve = { curve: c.curve, scale: c.scale, ...(c.max === undefined ? {} : { max: c.max }) };
  switch (c.curve) {
    case 'constant':
      return { ...base, value: c.value };
    case 'linear':
      return { ...base, slope: c.slope, base: c.base };
    case 'hard-soft':
      return { ...base, soft: c.soft, hard: c.hard, softAmt: c.softAmt, hardAmt: c.hardAmt };
    case 'piecewise':
      return { ...base, cutoff: c.cutoff, low: encodeCurve(c.low), high: encodeCurve(c.high) };
    case 'invalid':
    case 'unavailable':
      return base;
  }
}

function pci(v: Violations, address: string, field: string): string {
  const canonical = readCanonicalPciAddress(address);
  if (canonical.ok) return canonical.value;
  v.add(field, canonical.reason);
  return address;
}

/** berth.model.v1.HardwareConfig -> the parsed configuration; every bad field named at once (`config.…`). */
export function decodeHardwareConfig(c: pb.HardwareConfig | undefined): HardwareConfig {
  const v = new Violations();
  const costFunctions: Record<string, CostFunctionSpec> = {};
  for (const [i, f] of (c?.costFunctions ?? []).entries()) {
    const field = `config.costFunctions[${i}]`;
    if (!f.id) v.add(`${field}.id`, 'required');
    if (costFunctions[f.id]) v.add(`${field}.id`, `duplicate cost function '${f.id}'`);
    const curve = (name: 'vms' | 'vcpus' | 'memory') => {
      const x = f[name];
      const spec = x ? decodeCurve(v, x, `${field}.${name}`) : undefined;
      return spec ? { [name]: spec } : {};
    };
    const devices: Record<string, CurveSpec> = {};
    for (const [type, curveMsg] of Object.entries(f.devices)) {
      const spec = decodeCurve(v, curveMsg, `${field}.devices.${type}`);
      if (spec) devices[type] = spec;
    }
    costFunctions[f.id] = {
      id: f.id,
      name: f.name || f.id,
      description: f.description,
      ...curve('vms'),
      ...curve('vcpus'),
      ...curve('memory'),
      devices,
      scale: f.scale ?? 1,
      offset: f.offset ?? 0,
    };
  }
  const profiles: Record<string, HardwareProfile> = {};
  for (const [i, p] of (c?.hardwareProfiles ?? []).entries()) {
    if (!p.id) v.add(`config.hardwareProfiles[${i}].id`, 'required');
    if (profiles[p.id]) v.add(`config.hardwareProfiles[${i}].id`, `duplicate profile '${p.id}'`);
    profiles[p.id] = {
      id: p.id,
      name: p.name || p.id,
      description: p.description,
      cores: p.cores,
      memoryBytes: p.memoryBytes,
      devices: p.devices.map((d, j) => ({
        type: d.type,
        address: pci(v, d.address, `config.hardwareProfiles[${i}].devices[${j}].address`),
      })),
      costFunction: p.costFunctionId,
    };
  }
  v.throwIfAny();
  return { costFunctions, profiles };
}

/** The parsed configuration as berth.model.v1.HardwareConfig (what ApplyHardwareConfig takes and GetHardwareConfig answers). */
export function encodeHardwareConfig(c: HardwareConfig): pb.HardwareConfig {
  return {
    costFunctions: Object.values(c.costFunctions).map((f) => ({
      id: f.id,
      name: f.name,
      description: f.description,
      ...(f.vms ? { vms: encodeCurve(f.vms) } : {}),
      ...(f.vcpus ? { vcpus: encodeCurve(f.vcpus) } : {}),
      ...(f.memory ? { memory: encodeCurve(f.memory) } : {}),
      devices: Object.fromEntries(Object.entries(f.devices).map(([k, x]) => [k, encodeCurve(x)])),
      scale: f.scale,
      offset: f.offset,
    })),
    hardwareProfiles: Object.values(c.profiles).map((p) => ({
      id: p.id,
      name: p.name,
      description: p.description,
      cores: p.cores,
      memoryBytes: p.memoryBytes,
      devices: p.devices.map((d) => ({ type: d.type, address: d.address })),
      costFunctionId: p.costFunction,
    })),
  };
}
