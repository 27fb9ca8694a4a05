import { evaluateInterval, loadPolicySet, PolicyError, type EvalInput, type PolicySet } from '@berth/mom-policy';
import type { MomInput, PolicyEngine } from '../../application/ports.ts';

/**
 * MOM's GuestIoTune statistics of a guest's latest sample: `io_tune` (the IoTune objects: name, path,
 * guaranteed, maximum, current) and `io_tune_current` (`{name, path, ioTune}` per disk). The input
 * carries them beside the samples (they are no numbers); the one latest sample is copied with them,
 * as the engine's input (whose statistics may be any value), not as a sample of numbers.
 */
function withIoTune(input: MomInput): EvalInput {
  if (!input.guests.some((g) => g.ioTune !== undefined)) return input;
  return {
    ...input,
    guests: input.guests.map((g) => {
      const last = g.history.at(-1);
      if (g.ioTune === undefined || last === undefined) return g;
      const latest = {
        ...last,
        io_tune: g.ioTune.map((d) => ({
          name: d.name,
          path: d.path,
          guaranteed: { ...d.guaranteed },
          maximum: { ...d.maximum },
          current: { ...d.current },
        })),
        io_tune_current: g.ioTune.map((d) => ({ name: d.name, path: d.path, ioTune: { ...d.current } })),
      };
      return { ...g, history: [...g.history.slice(0, -1), latest] };
    }),
  };
}

/** MOM's policy language (@berth/mom-policy) as the loop's engine. */
export const momEngine: PolicyEngine<PolicySet> = {
  compile(files) {
    try {
      return { ok: true, set: loadPolicySet(files) };
    } catch (e) {
      if (e instanceof PolicyError) return { ok: false, file: e.file, line: e.line, message: e.reason };
      throw e;
    }
  },
  evaluate(set, input) {
    return evaluateInterval(set, withIoTune(input));
  },
};
