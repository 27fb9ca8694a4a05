/**
 * What this service writes to its log is what @berth/contracts publishes as its events
 * (`telemetryEvents`, checked by the event catalog's schemas at any consumer's edge): each payload
 * type must be assignable to the contract's, or this file fails to compile. Types only.
 */
import type { telemetryEvents } from '@berth/contracts';
import type { DecisionRecorded } from '../../application/decisions.ts';
import type { PolicySetApplied } from '../../domain/policy/policy.ts';
import type { QuietEntry } from './decision-log.ts';

type Writes<Ours, Contract> = [Ours] extends [Contract] ? true : false;
const writes = <Ours, Contract>(proof: Writes<Ours, Contract>): Writes<Ours, Contract> => proof;

export const EVENT_CONTRACT = [
  writes<PolicySetApplied, telemetryEvents.PolicySetApplied>(true),
  writes<DecisionRecorded, telemetryEvents.DecisionRecorded>(true),
  writes<{ readonly entries: readonly QuietEntry[] }, telemetryEvents.UnchangedIntervalsRecorded>(true),
] as const;
