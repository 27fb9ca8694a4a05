/**
 * Telemetry on the bus. Samples and controls are plain NATS (core) messages, never JetStream and
 * never an event log: samples are metrics, controls are requests answered at once. Subjects take the
 * deployment's prefix like every other subject (`<prefix>.berth.samples.<hostId>` in tests).
 *
 * - `berth.samples.<hostId>`: one HostSampleMessage per host per sample interval, published by the
 *   placement executor (it owns the hypervisor connections), consumed by telemetry.
 * - `berth.controls.<hostId>`: a ControlRequest from telemetry, answered by the executor with a
 *   ControlReply (request/reply).
 *
 * Statistics use MOM's names and units (KiB for memory). Schema version 1 (`v`). docs/events.md.
 */
export const SAMPLES_SUBJECT = 'berth.samples';
export const CONTROLS_SUBJECT = 'berth.controls';
export const TELEMETRY_SERVICE = 'telemetry';
export const HOST_USAGE_BUCKET = 'berth-host-usage';

export interface TelemetryCapabilitiesWire {
  readonly hostMemory: boolean;
  readonly ksmStats: boolean;
  readonly ksmRun: boolean;
  readonly ksmTune: boolean;
  readonly cpuTune: boolean;
  readonly ioTune: boolean;
  readonly balloon: boolean;
  /**
   * False when the host's own files (swap, anon pages, swap traffic, KSM `run`, ksmd's CPU) cannot be read:
   * a libvirt host over TCP or TLS without an SSH endpoint for them. Absent means they can (older executors).
   */
  readonly hostFiles?: boolean;
}

/**
 * One disk as MOM's GuestIoTune collector reports it: device (`vda`), source, and the limits under MOM's
 * names (`total_bytes_sec`, `read_bytes_sec`, `write_bytes_sec`, `total_iops_sec`, `read_iops_sec`,
 * `write_iops_sec`; 0 = unlimited) the VM's I/O policy allows (`guaranteed`, `maximum`) and in force
 * (`current`). Telemetry hands the policy `io_tune` (these) and `io_tune_current` (`{name, path, ioTune: current}`).
 */
export interface DiskIoTuneWire {
  readonly name: string;
  readonly path: string;
  readonly guaranteed: Readonly<Record<string, number>>;
  readonly maximum: Readonly<Record<string, number>>;
  readonly current: Readonly<Record<string, number>>;
}

export interface GuestSampleWire {
  readonly vmId: string;
  readonly stats: Readonly<Record<string, number>>;
  /** Block I/O limits per disk; absent for a guest without disks or whose limits cannot be read. */
  readonly ioTune?: readonly DiskIoTuneWire[];
}

export interface HostSampleMessage {
  readonly v: 1;
  readonly hostId: string;
  /** RFC 3339 time the sample was taken. */
  readonly at: string;
  readonly capabilities: TelemetryCapabilitiesWire;
  readonly host: Readonly<Record<string, number>>;
  /** Running Berth guests (domains Berth did not create are left out). */
  readonly guests: readonly GuestSampleWire[];
}

export type Control =
  | { readonly kind: 'balloon'; readonly vmId: string; readonly targetKib: number }
  | {
      readonly kind: 'ksm';
      readonly run?: number;
      readonly pagesToScan?: number;
      readonly sleepMillisecs?: number;
      readonly mergeAcrossNodes?: number;
    }
  | { readonly kind: 'cpuTune'; readonly vmId: string; readonly quota: number; readonly period: number }
  | {
      readonly kind: 'ioTune';
      readonly vmId: string;
      readonly device: string;
      readonly totalBytesSec?: number;
      readonly readBytesSec?: number;
      readonly writeBytesSec?: number;
      readonly totalIopsSec?: number;
      readonly readIopsSec?: number;
      readonly writeIopsSec?: number;
    }
  /** Through the executor's own lifecycle (recorded in its log, reported to inventory), never behind its back. */
  | { readonly kind: 'power'; readonly vmId: string; readonly action: 'off' | 'on'; readonly reason: string; readonly commandId: string };

export interface ControlRequest {
  readonly v: 1;
  readonly hostId: string;
  /** The telemetry decision (event id) these controls carry out. */
  readonly decisionId: string;
  readonly controls: readonly Control[];
}

export type ControlResult = { readonly ok: true } | { readonly ok: false; readonly error: string; readonly unsupported: boolean };

export interface ControlReply {
  readonly v: 1;
  /** One per control, in order. */
  readonly results: readonly ControlResult[];
}

/** Measured usage of one host, in the `berth-host-usage` KV bucket under the host id. */
export interface HostUsage {
  readonly hostId: string;
  readonly at: string;
  readonly memoryTotalBytes: number;
  /** Memory really used: total minus MOM's mem_free (free + buffers + page cache). */
  readonly memoryUsedBytes: number;
  /** used / total, 0..1. */
  readonly memoryPressure: number;
  readonly swapUsedBytes: number;
  /** Host CPU busy percent over the last sample interval, when the hypervisor reports it. */
  readonly cpuPercent?: number;
  readonly guests: number;
  /** Sum of the guests' balloon targets (what they hold now) and of their allocations. */
  readonly guestBalloonBytes: number;
  readonly guestAllocatedBytes: number;
  /** Sum of the guests' resident memory, when reported. */
  readonly guestRssBytes: number;
}
