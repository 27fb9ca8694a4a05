import type { CostFunctionSpec, CurveSpec } from '@berth/hardware-config';
import { compileCurve, unavailableCurve, whyInfinite, type CurveFn } from './curves.ts';

/** A host's consumption after the placement, the inputs of a cost function. */
export interface CostInputs {
  readonly vms: number;
  readonly vcpus: number;
  readonly memoryBytes: number;
  /** Devices in use per type. */
  readonly devices: ReadonlyMap<string, number>;
}

/** The cost of one host, curve by curve, before `scale` and `offset` are applied. */
export interface CostBreakdown {
  readonly costFunction: string | null;
  readonly vms?: number;
  readonly vcpus?: number;
  readonly memory?: number;
  readonly devices: Readonly<Record<string, number>>;
  readonly scale: number;
  readonly offset: number;
  /** offset + scale x (sum of the curves); Infinity when any curve is. */
  readonly total: number;
}

/**
 * A cost function of seed 003 compiled for the hot loop:
 * cost = offset + scale x (vms(n) + vcpus(v) + memory(bytes) + sum of devices.<type>(count)).
 * An absent vms/vcpus/memory curve adds 0; a device type in use without a curve is `unavailable`.
 */
export class CompiledCostFunction {
  readonly id: string;
  readonly vms: CurveFn | null;
  readonly vcpus: CurveFn | null;
  readonly memory: CurveFn | null;
  readonly devices: ReadonlyMap<string, CurveFn>;
  readonly scale: number;
  readonly offset: number;
  private readonly spec: CostFunctionSpec;

  constructor(spec: CostFunctionSpec) {
    this.spec = spec;
    this.id = spec.id;
    this.vms = spec.vms ? compileCurve(spec.vms) : null;
    this.vcpus = spec.vcpus ? compileCurve(spec.vcpus) : null;
    this.memory = spec.memory ? compileCurve(spec.memory) : null;
    this.devices = new Map(Object.entries(spec.devices).map(([type, curve]) => [type, compileCurve(curve)]));
    this.scale = spec.scale;
    this.offset = spec.offset;
  }

  device(type: string, count: number): number {
    return (this.devices.get(type) ?? unavailableCurve)(count);
  }

  /** Sum of the device curves at these counts (listed types at 0 when absent). */
  deviceSum(counts: ReadonlyMap<string, number>): number {
    let sum = 0;
    for (const [type, curve] of this.devices) sum += curve(counts.get(type) ?? 0);
    for (const [type, count] of counts) if (count > 0 && !this.devices.has(type)) return Infinity;
    return sum;
  }

  /** offset + scale x curves; the offset is not scaled, and Infinity stays Infinity. */
  total(vms: number, vcpus: number, memoryBytes: number, deviceSum: number): number {
    let sum = deviceSum;
    if (this.vms) sum += this.vms(vms);
    if (this.vcpus) sum += this.vcpus(vcpus);
    if (this.memory) sum += this.memory(memoryBytes);
    return sum === Infinity || Number.isNaN(sum) ? Infinity : this.offset + this.scale * sum;
  }

  cost(inputs: CostInputs): number {
    return this.total(inputs.vms, inputs.vcpus, inputs.memoryBytes, this.deviceSum(inputs.devices));
  }

  /**
   * Which curve makes the cost infinite at these inputs and why, e.g. `vcpus: hard-soft past hard 16
   * at 18` (the first such curve: vms, vcpus, memory, then devices by type); undefined when finite.
   */
  whyInfinite(inputs: CostInputs): string | undefined {
    const GiB = 1024 ** 3;
    const bytes = (n: number): string => `${+(n / GiB).toFixed(2)} GiB`;
    const curves: [string, CurveSpec | undefined, number, ((n: number) => string)?][] = [
      ['vms', this.spec.vms, inputs.vms],
      ['vcpus', this.spec.vcpus, inputs.vcpus],
      ['memory', this.spec.memory, inputs.memoryBytes, bytes],
    ];
    for (const [type, curve] of Object.entries(this.spec.devices)) curves.push([`devices.${type}`, curve, inputs.devices.get(type) ?? 0]);
    for (const [name, curve, input, show] of curves) {
      const why = curve === undefined ? undefined : whyInfinite(curve, input, show);
      if (why !== undefined) return `${name}: ${why}`;
    }
    for (const [type, count] of inputs.devices) {
      if (count > 0 && !this.devices.has(type)) return `devices.${type}: no curve for the type (unavailable) at ${count}`;
    }
    return undefined;
  }

  breakdown(inputs: CostInputs): CostBreakdown {
    const devices: Record<string, number> = {};
    for (const type of this.devices.keys()) devices[type] = this.device(type, inputs.devices.get(type) ?? 0);
    for (const [type, count] of inputs.devices) if (!this.devices.has(type)) devices[type] = unavailableCurve(count);
    return {
      costFunction: this.id,
      ...(this.vms && { vms: this.vms(inputs.vms) }),
      ...(this.vcpus && { vcpus: this.vcpus(inputs.vcpus) }),
      ...(this.memory && { memory: this.memory(inputs.memoryBytes) }),
      devices,
      scale: this.scale,
      offset: this.offset,
      total: this.cost(inputs),
    };
  }
}

/** Hosts without a hardware profile (or whose profile names no known cost function) cost 0. */
export const NO_COST: CostBreakdown = { costFunction: null, devices: {}, scale: 1, offset: 0, total: 0 };
