import type { telemetry, telemetryInput } from '@berth/contracts';
import type { Clamp } from '../domain/sla/sla.ts';

/** A decision as the telemetry log records it (`DecisionRecorded` on `host-<hostId>`), schema 2. */
export interface DecisionRecorded {
  readonly hostId: string;
  /** When the interval was evaluated. */
  readonly at: string;
  readonly policy: { readonly scope: string; readonly version: number; readonly digest: string };
  /**
   * Exactly what the policy read (the `berth policy eval` input) plus capabilities and prior I/O limits,
   * as a delta against the host's previous decision or a keyframe (`telemetryInput`, @berth/contracts).
   */
  readonly input: telemetryInput.RecordedInput;
  /** The controls as the policy set them. */
  readonly decided: {
    readonly host: Readonly<Record<string, unknown>>;
    readonly guests: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  };
  readonly excludedGuests: readonly string[];
  readonly clamps: readonly Clamp[];
  /** After the SLA clamp and the minimum step: what was sent. */
  readonly controls: readonly telemetry.Control[];
  readonly unsupported: readonly string[];
}
