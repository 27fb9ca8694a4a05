/**
 * The hardware configuration as events carry it (ConfigApplied): cost functions and hardware
 * profiles as the tiCrypt realm describes them, normalised (curve aliases resolved, defaults filled
 * in, byte sizes as numbers of bytes, PCI addresses canonical). Defined here, not imported from
 * @berth/hardware-config, for the reason given in ./model.ts; @berth/model-codec proves the shapes equal.
 */

/** Parameters every curve has. */
export interface CurveCommon {
  /** Factor applied to the curve's result (default 1). */
  readonly scale: number;
  /** Any input past this value costs Infinity (absent: no limit). */
  readonly max?: number;
}

/** Always returns `value`. */
export interface ConstantCurve extends CurveCommon {
  readonly curve: 'constant';
  readonly value: number;
}

/** Always returns Infinity: never schedulable. */
export interface InvalidCurve extends CurveCommon {
  readonly curve: 'invalid';
}

/** `base + slope * input`. */
export interface LinearCurve extends CurveCommon {
  readonly curve: 'linear';
  readonly slope: number;
  readonly base: number;
}

/**
 * 0 at input 0, `softAmt` at `soft`, `hardAmt` at `hard` (linear between), Infinity past `hard`.
 * The input alias `soft-hard` is normalised to `hard-soft`.
 */
export interface HardSoftCurve extends CurveCommon {
  readonly curve: 'hard-soft';
  readonly soft: number;
  readonly hard: number;
  /** Default 1. */
  readonly softAmt: number;
  /** Default 10. */
  readonly hardAmt: number;
}

/** 0 for input <= 0, Infinity above: the default for device types a cost function does not list. */
export interface UnavailableCurve extends CurveCommon {
  readonly curve: 'unavailable';
}

/**
 * `low(input)` when input <= cutoff, else `high(input)`.
 * The input aliases `low-high` and `high-low` are normalised to `piecewise`.
 */
export interface PiecewiseCurve extends CurveCommon {
  readonly curve: 'piecewise';
  readonly cutoff: number;
  readonly low: CurveSpec;
  readonly high: CurveSpec;
}

export type CurveSpec = ConstantCurve | InvalidCurve | LinearCurve | HardSoftCurve | UnavailableCurve | PiecewiseCurve;

export type CurveType = CurveSpec['curve'];

export interface CostFunctionSpec {
  readonly id: string;
  /** Default: the id. */
  readonly name: string;
  /** Default: ''. */
  readonly description: string;
  /** Cost by number of VMs on the host. */
  readonly vms?: CurveSpec;
  /** Cost by number of vCPUs used. */
  readonly vcpus?: CurveSpec;
  /** Cost by memory used, in bytes. */
  readonly memory?: CurveSpec;
  /** Device type -> curve over the number of devices of that type in use. Unlisted types are `unavailable`. */
  readonly devices: Readonly<Record<string, CurveSpec>>;
  /** Multiplies every cost of this function (default 1). */
  readonly scale: number;
  /** Added to every cost of this function, not scaled (default 0). */
  readonly offset: number;
}

export interface ProfileDevice {
  readonly type: string;
  /** Canonical PCI address `dddd:bb:ss.f`. */
  readonly address: string;
}

export interface HardwareProfile {
  readonly id: string;
  /** Default: the id. */
  readonly name: string;
  /** Default: ''. */
  readonly description: string;
  readonly cores: number;
  readonly memoryBytes: number;
  readonly devices: readonly ProfileDevice[];
  /** Id of a cost function defined in the same configuration. */
  readonly costFunction: string;
}

export type DriveCache = 'default' | 'writethrough' | 'writeback' | 'none';

export interface GuestBoot {
  /** Absolute path of the kernel image on the hypervisor host. */
  readonly kernel: string;
  readonly initrd?: string;
  readonly cmdline?: string;
}

/**
 * The libvirt realm table of seed 003, with Berth's defaults (pool names `berth-vm`,
 * `berth-vm-drives`, `berth-bricks` instead of tiCrypt's `ticrypt-*`).
 */
export interface RealmSettings {
  readonly disabled: boolean;
  /** Only `libvirt` is known (the seed's "Livbirt" is a typo). */
  readonly driver: 'libvirt';
  readonly name: string;
  readonly volumesPool: string;
  readonly drivesPool: string;
  readonly bricksPool: string;
  readonly logScheduling: boolean;
  /** How long a started VM has to register (default 5m). */
  readonly registrationTimeoutMillis: number;
  /** How often the executor reconciles a VM (default 30s). */
  readonly pollFrequencyMillis: number;
  readonly networkFilter?: string;
  /**
   * Berth's extension (`guest-boot { kernel, initrd, cmdline }`, not in seed 003): boot every guest of
   * the realm straight into this kernel (libvirt `<os><kernel>`), for diskless appliance guests. Paths
   * are on the hypervisor host and must be readable by its QEMU.
   */
  readonly guestBoot?: GuestBoot;
  readonly drives: {
    /** Default true (`on`). */
    readonly lazyAllocation: boolean;
    readonly cache: DriveCache;
    readonly minSizeBytes?: number;
    readonly maxSizeBytes?: number;
  };
}

export interface HardwareConfig {
  readonly costFunctions: Readonly<Record<string, CostFunctionSpec>>;
  readonly profiles: Readonly<Record<string, HardwareProfile>>;
  readonly realm?: RealmSettings;
}
