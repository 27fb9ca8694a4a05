/**
 * Payloads of the events the telemetry service records in its log (`berth_telemetry`) and its relay
 * publishes on `berth.telemetry.<streamType>.<Type>` (stream BERTH_TELEMETRY). No Berth service
 * consumes them today; they are in the catalog so that any consumer checks them at its edge like
 * every other event. Documented in docs/events.md (Telemetry section). All payloads are schema version 1
 * but `DecisionRecorded` (2: its input is recorded as a delta against the host's previous decision).
 */
import type { RecordedInput } from '../telemetry-input.ts';
import type { Control } from '../telemetry.ts';

export interface PolicyFile {
  readonly name: string;
  readonly text: string;
}

/** A policy set applied to a scope (`policy-default`, `policy-pool:<name>`, `policy-host:<id>` streams). */
export interface PolicySetApplied {
  readonly scope: string;
  readonly version: number;
  /** sha256 of the names and texts. */
  readonly digest: string;
  readonly files: readonly PolicyFile[];
  readonly source: 'builtin' | 'applied';
  readonly appliedAt: string;
}

export type ClampRule =
  'platinum-full-allocation' | 'gold-75-percent' | 'above-maximum' | 'below-zero' | 'priority-order' | 'below-minimum-step';

/** How the SLA floor (or a limit) changed what the policy decided for one guest. */
export interface Clamp {
  readonly vmId: string;
  readonly control: 'balloon_target';
  readonly decided: number;
  readonly applied: number | null;
  readonly rule: ClampRule;
}

/** One interval that changed a control (`host-<hostId>` streams); its event id is the decision id. */
export interface DecisionRecorded {
  readonly hostId: string;
  readonly at: string;
  readonly policy: { readonly scope: string; readonly version: number; readonly digest: string };
  /**
   * Exactly what the interval read (MOM's `berth policy eval` input, capabilities, I/O limits last sent),
   * for replay: a keyframe or a delta against the host's previous decision (`telemetry-input.ts`).
   * Schema 1 held the whole input (`DecisionInput`) here; its upcaster records it as a keyframe.
   */
  readonly input: RecordedInput;
  readonly decided: {
    readonly host: Readonly<Record<string, unknown>>;
    readonly guests: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  };
  readonly excludedGuests: readonly string[];
  readonly clamps: readonly Clamp[];
  /** After the SLA clamp and the minimum step: what was sent. */
  readonly controls: readonly Control[];
  readonly unsupported: readonly string[];
}

export interface IntervalEntry {
  readonly hostId: string;
  readonly at: string;
  /** `scope@version`. */
  readonly policy: string;
  /** Set when the policy failed the interval (no control applied). */
  readonly error?: string;
  /**
   * Set when the interval decided a change but, waiting behind its host's previous decision, was replaced
   * by the host's next interval: it was not recorded as a decision and nothing of it was sent.
   */
  readonly superseded?: true;
}

/** Every interval that changed nothing (or failed), gathered per flush (`intervals-*` streams). */
export interface UnchangedIntervalsRecorded {
  readonly entries: readonly IntervalEntry[];
}

export interface TelemetryEventMap {
  PolicySetApplied: PolicySetApplied;
  DecisionRecorded: DecisionRecorded;
  UnchangedIntervalsRecorded: UnchangedIntervalsRecorded;
}
export type TelemetryEventType = keyof TelemetryEventMap;
