import type { CurveSpec } from '@berth/hardware-config';

/** A curve compiled to a plain function: input (count or bytes) -> cost, Infinity = impossible. */
export type CurveFn = (input: number) => number;

function exhaustive(x: never): never {
  throw new Error(`unknown curve ${JSON.stringify(x)}`);
}

/** The bare shape of a curve (before `scale` and `max`), as seed 003 defines each type. */
function shape(spec: CurveSpec): CurveFn {
  switch (spec.curve) {
    case 'constant': {
      const value = spec.value;
      return () => value;
    }
    case 'invalid':
      return () => Infinity;
    case 'linear': {
      const { slope, base } = spec;
      return (x) => base + slope * x;
    }
    case 'hard-soft': {
      // 0 at 0, softAmt at soft, hardAmt at hard (linear in between), Infinity past hard.
      const { soft, hard, softAmt, hardAmt } = spec;
      const rampSlope = (hardAmt - softAmt) / (hard - soft);
      return (x) => (x > hard ? Infinity : x <= soft ? (x / soft) * softAmt : softAmt + (x - soft) * rampSlope);
    }
    case 'unavailable':
      return (x) => (x <= 0 ? 0 : Infinity);
    case 'piecewise': {
      const { cutoff } = spec;
      const low = compileCurve(spec.low);
      const high = compileCurve(spec.high);
      return (x) => (x <= cutoff ? low(x) : high(x));
    }
    default:
      return exhaustive(spec);
  }
}

/**
 * Compiles a curve once so evaluation in the scheduler's hot loop is a closure call. `scale`
 * multiplies the result (Infinity stays Infinity even at scale 0); input past `max` is Infinity.
 */
export function compileCurve(spec: CurveSpec): CurveFn {
  const f = shape(spec);
  const scale = spec.scale;
  const max = spec.max;
  const scaled: CurveFn =
    scale === 1
      ? f
      : (x) => {
          const y = f(x);
          return y === Infinity ? Infinity : y * scale;
        };
  return max === undefined ? scaled : (x) => (x > max ? Infinity : scaled(x));
}

export function evaluateCurve(spec: CurveSpec, input: number): number {
  return compileCurve(spec)(input);
}

export const unavailableCurve: CurveFn = (x) => (x <= 0 ? 0 : Infinity);

/**
 * Why a curve is Infinity at `input` ("hard-soft past hard 16 at 18"), or undefined when it is
 * finite there. `show` writes inputs (and limits) in the curve's unit, e.g. bytes as GiB.
 */
export function whyInfinite(spec: CurveSpec, input: number, show: (n: number) => string = String): string | undefined {
  if (spec.max !== undefined && input > spec.max) return `${spec.curve} past max ${show(spec.max)} at ${show(input)}`;
  switch (spec.curve) {
    case 'invalid':
      return `invalid at ${show(input)}`;
    case 'hard-soft':
      return input > spec.hard ? `hard-soft past hard ${show(spec.hard)} at ${show(input)}` : undefined;
    case 'unavailable':
      return input > 0 ? `unavailable at ${show(input)}` : undefined;
    case 'piecewise': {
      const below = input <= spec.cutoff;
      const inner = whyInfinite(below ? spec.low : spec.high, input, show);
      return inner === undefined ? undefined : `piecewise ${below ? 'at or below' : 'above'} cutoff ${show(spec.cutoff)}: ${inner}`;
    }
    case 'constant':
    case 'linear': {
      const y = compileCurve(spec)(input);
      return y === Infinity || Number.isNaN(y) ? `${spec.curve} is ${y} at ${show(input)}` : undefined;
    }
    default:
      return exhaustive(spec);
  }
}
