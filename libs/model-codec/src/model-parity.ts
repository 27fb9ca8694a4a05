/**
 * The event model of @berth/contracts (the language of published payloads) and the domain model of
 * @berth/fit and @berth/hardware-config are declared separately, so that contracts imports no
 * domain library. These assertions make them the same shapes: a field added, removed or retyped on
 * one side only fails to compile here. Types only; nothing runs.
 */
import type { eventModel as ev } from '@berth/contracts';
import type * as fit from '@berth/fit';
import type * as hc from '@berth/hardware-config';

// TypeScript's identity relation (not mutual assignability, which an added optional field passes).
type Same<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const same = <A, B>(proof: Same<A, B>): Same<A, B> => proof;

export const MODEL_PARITY = [
  same<ev.HostState, fit.HostState>(true),
  same<ev.SlaTier, fit.SlaTier>(true),
  same<ev.MigrationMode, fit.MigrationMode>(true),
  same<ev.HostCapacity, fit.HostCapacity>(true),
  same<ev.HostSnapshot, fit.HostSnapshot>(true),
  same<ev.Claim, fit.Claim>(true),
  same<ev.VmSpec, fit.VmSpec>(true),
  same<ev.CurveSpec, hc.CurveSpec>(true),
  same<ev.CostFunctionSpec, hc.CostFunctionSpec>(true),
  same<ev.HardwareProfile, hc.HardwareProfile>(true),
  same<ev.HardwareConfig, hc.HardwareConfig>(true),
] as const;
