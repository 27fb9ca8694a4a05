import type { telemetry } from '@berth/contracts';
import type { PressureEvent } from '../domain/pressure/pressure.ts';

export interface HostOutcome {
  readonly outcome: 'skipped' | 'failed' | 'unchanged' | 'changed';
  readonly decisionId?: string;
  readonly error?: string;
  readonly pressure?: readonly PressureEvent[];
  readonly controlReply?: telemetry.ControlReply;
  /** How long recording the decision, then the executor's applying its controls, took. */
  readonly millis?: { readonly append: number; readonly send: number };
}

/**
 * One policy round in figures: hosts skipped because their last decision was still being recorded or
 * sent (`inFlight`) or because their samples were stale, the outcomes, the mean time a decision took
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
    hosts: outcomes.length + inFlight,
    inFlight,
    stale: count('skipped'),
    changed: count('changed'),
    unchanged: count('unchanged'),
    failed: count('failed'),
    appendMillis: mean('append'),
    sendMillis: mean('send'),
    evaluatedMillis: Math.round(evaluatedMillis),
    settledMillis: Math.round(settledMillis),
  };
}
