import type { telemetry } from '@berth/contracts';
import type { PolicyFile } from '../domain/policy/policy.ts';
import type { SlaTier } from '../domain/sla/sla.ts';

/** One sample of an entity: MOM statistic name -> value. */
export type MomSample = Readonly<Record<string, number>>;
export type MomProps = Readonly<Record<string, string | number>>;

/** The input of one interval, in the shape `berth policy eval` reads (the contract). */
export interface MomInput {
  readonly host: readonly MomSample[];
  readonly host_props: MomProps;
  readonly guests: readonly {
    readonly name: string;
    readonly uuid: string;
    readonly props: MomProps;
    readonly history: readonly MomSample[];
    /**
     * The guest's disks' I/O limits (MOM's GuestIoTune: the engine hands the policy `io_tune` and
     * `io_tune_current` as statistics of the guest's latest sample, where `berth policy eval` takes them).
     */
    readonly ioTune?: readonly telemetry.DiskIoTuneWire[];
  }[];
  /** `host_collectors`: only for a host whose own files cannot be read (REMOTE_HOST_COLLECTORS); else vdsm's. */
  readonly config: { readonly history_length: number; readonly host_collectors?: readonly string[] };
}

export interface MomOutput {
  readonly ok: boolean | null;
  readonly error?: string;
  readonly host: Readonly<Record<string, unknown>>;
  readonly guests: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  readonly excluded_guests: readonly string[];
  readonly variables: Readonly<Record<string, unknown>>;
}

export type CompileResult<S> =
  { readonly ok: true; readonly set: S } | { readonly ok: false; readonly file: string; readonly line: number; readonly message: string };

/** MOM's policy language (libs/mom-policy), behind a port so the loop is tested on its own. */
export interface PolicyEngine<S = unknown> {
  compile(files: readonly PolicyFile[]): CompileResult<S>;
  /** Never throws: an error ends the interval with ok false and no controls. */
  evaluate(set: S, input: MomInput): MomOutput;
}

/** What inventory says of a VM that telemetry needs: its SLA class, priority and allocation. */
export interface VmSlaInfo {
  readonly vmId: string;
  readonly tier: SlaTier;
  readonly priority: number;
  readonly memoryBytes: number;
}

export interface VmDirectory {
  get(vmId: string): VmSlaInfo | undefined;
}

export interface HostDirectory {
  resourcePool(hostId: string): string | undefined;
}

/** Sends controls to the executor that owns the host; resolves with one result per control. */
export interface ControlPort {
  send(req: telemetry.ControlRequest): Promise<telemetry.ControlReply>;
}

export interface UsageSink {
  put(usage: telemetry.HostUsage): void;
}
