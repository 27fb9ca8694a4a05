/**
 * Host and guest statistics under the names MOM's collectors give them, so a MOM policy reads them
 * unchanged (`Host.mem_free`, `guest.balloon_cur`). Memory is in KiB as MOM has it; counters are raw
 * (swap_in/out in KiB, faults and cpu_time as counted). A statistic the hypervisor did not report is
 * absent, never zero.
 */
export type Stats = Readonly<Record<string, number>>;

export interface GuestStats {
  /** The libvirt domain name. */
  readonly name: string;
  /** The Berth VM id when the domain is one Berth made, else undefined (such guests are never tuned). */
  readonly vmId?: string;
  readonly stats: Stats;
  /** Block I/O limits per disk (MOM's GuestIoTune collector); absent when the guest has no disk or they cannot be read. */
  readonly ioTune?: readonly DiskIoTune[];
}

/** MOM's names of a disk's block I/O limits (bytes or operations per second; 0 = unlimited), as libvirt's blkdeviotune has them. */
export const IO_LIMIT_NAMES = [
  'total_bytes_sec',
  'read_bytes_sec',
  'write_bytes_sec',
  'total_iops_sec',
  'read_iops_sec',
  'write_iops_sec',
] as const;
export type IoLimitName = (typeof IO_LIMIT_NAMES)[number];
export type IoLimits = Readonly<Record<IoLimitName, number>>;

/** No limit at all (what a disk has until one is set). */
export const UNLIMITED_IO: IoLimits = Object.freeze({
  total_bytes_sec: 0,
  read_bytes_sec: 0,
  write_bytes_sec: 0,
  total_iops_sec: 0,
  read_iops_sec: 0,
  write_iops_sec: 0,
});

/**
 * One disk as MOM's GuestIoTune collector reports it (`io_tune`, the policy's IoTune objects; `io_tune_current`
 * is `{name, path, ioTune: current}`): the device (`vda`) and its source, the limits the VM's I/O policy allows
 * (`guaranteed`, `maximum`) and those in force on the running domain (`current`).
 */
export interface DiskIoTune {
  readonly name: string;
  readonly path: string;
  readonly guaranteed: IoLimits;
  readonly maximum: IoLimits;
  readonly current: IoLimits;
}

export interface HostTelemetry {
  readonly host: Stats;
  /** Running guests only. */
  readonly guests: readonly GuestStats[];
}

/** Node memory tuning of the kernel's same-page merging (MOM's `ksm_*` controls). */
export interface KsmTuning {
  /** 0 stop, 1 run, 2 unmerge all (sysfs `run`). */
  readonly run?: number;
  readonly pagesToScan?: number;
  readonly sleepMillisecs?: number;
  readonly mergeAcrossNodes?: number;
}

/** A guest's vCPU bandwidth (cgroup CFS): `quota` µs per `period` µs per vCPU; quota -1 = unlimited. */
export interface CpuTune {
  readonly quota: number;
  readonly period: number;
}

/** Per-device block I/O limits (0 = unlimited), as `virsh blkdeviotune` names them. */
export interface IoTune {
  readonly device: string;
  readonly totalBytesSec?: number;
  readonly readBytesSec?: number;
  readonly writeBytesSec?: number;
  readonly totalIopsSec?: number;
  readonly readIopsSec?: number;
  readonly writeIopsSec?: number;
}

/** What a backend's telemetry can read and tune; what it cannot is declared here, never failed at run time. */
export interface TelemetryCapabilities {
  readonly hostMemory: boolean;
  readonly ksmStats: boolean;
  /** Starting/stopping KSM itself (libvirt's node memory tuning has no `run`). */
  readonly ksmRun: boolean;
  /** pages_to_scan, sleep_millisecs, merge_across_nodes. */
  readonly ksmTune: boolean;
  readonly cpuTune: boolean;
  readonly ioTune: boolean;
  /**
   * The host's own files are read (swap, anonymous memory and swap traffic from /proc, KSM's `run` and
   * ksmd's CPU): libvirt does not report them. False for a libvirt host reached over TCP or TLS with no
   * SSH endpoint for its files: its samples lack those statistics.
   */
  readonly hostFiles: boolean;
}

/** Collectors and the non-balloon controllers of one host (the balloon is HypervisorDriver.setBalloonTarget). */
export interface HostTelemetrySource {
  readonly capabilities: TelemetryCapabilities;
  sample(): Promise<HostTelemetry>;
  setKsm(tuning: KsmTuning): Promise<void>;
  setCpuTune(domain: string, tune: CpuTune): Promise<void>;
  setIoTune(domain: string, tune: IoTune): Promise<void>;
  close(): Promise<void>;
}
