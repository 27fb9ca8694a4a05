import type { telemetry } from '@berth/contracts';
import type { PressureEvent } from '../domain/pressure/pressure.ts';

export interface HostOutcome {
  readonly outcome: 'skipped' | 'failed' | 'unchanged' | 'changed' | 'superseded';
  /** Evaluated while the host's previous decision was still in flight: it waited for its turn. */
  readonly queued?: boolean;
  readonly decisionId?: string;
  readonly error?: string;
  readonly pressure?: readonly PressureEvent[];
  readonly controlReply?: telemetry.ControlReply;
  /** How long recording the decision, then the executor's applying its controls, took. */
  readonly millis?: { readonly append: number; readonly send: number };
}

/**
 * One policy round in figures: hosts evaluated while their last decision was still being recorded or
 * sent (`inFlight`: their decision waited for its turn), hosts skipped because their samples were
 * stale, the outcomes (`superseded`: replaced, while waiting, by the next round's), the mean time a decision took
 * to be recorded and to be applied, and how long the round took to evaluate and to settle.
 */
export function roundSummary(
  outcomes: readonly (HostOutcome | undefined)[],
  inFlight: number,
  evaluatedMillis: number,
  settledMillis: number,
): Record<string, number> {
  const count = (o: HostOutcome['outcome']): number => outcomes.filter((x) => x?.outcome === o).length;
  const timed = outcomes.flatMap((x) => (x?.millis ? [x.millis] : []));
  const mean = (k: 'append' | 'send'): number => (timed.length === 0 ? 0 : Math.round(timed.reduce((a, t) => a + t[k], 0) / timed.length));
  return {
    hosts: outcomes.length,
    inFlight,
    stale: count('skipped'),
    changed: count('changed'),
    unchanged: count('unchanged'),
    failed: count('failed'),
    superseded: count('superseded'),
    appendMillis: mean('append'),
    sendMillis: mean('send'),
    evaluatedMillis: Math.round(evaluatedMillis),
    settledMillis: Math.round(settledMillis),
  };
}
