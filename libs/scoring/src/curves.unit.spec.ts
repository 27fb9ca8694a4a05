import { parseHardwareConfig, type CurveSpec } from '@berth/hardware-config';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileCurve, evaluateCurve } from './curves.ts';

const GiB = 1024 ** 3;

/** Curves written exactly as seed 003 writes them, read through the real config parser. */
function curve(hocon: string): CurveSpec {
  const cf = parseHardwareConfig(`ticrypt.vm.cost-functions.t { vms: ${hocon} }`, { file: 'seed.conf' }).costFunctions.t!;
  return cf.vms!;
}

const close = (a: number, b: number): boolean => a === b || Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a), Math.abs(b));

describe('curves of seed 003', () => {
  it('constant returns its value', () => {
    const f = compileCurve(curve('{ curve: constant, value: 1.0 }'));
    expect([0, 5, 1e12].map(f)).toEqual([1, 1, 1]);
  });
  it('invalid is always infinity', () => {
    expect([0, -1, 3].map(compileCurve(curve('{ curve: invalid }')))).toEqual([Infinity, Infinity, Infinity]);
  });
  it('linear: base + slope x input', () => {
    expect([0, 2].map(compileCurve(curve('{ curve: linear, slope: 1.0, base: 0.0 }')))).toEqual([0, 2]);
    expect([0, 1, 2].map(compileCurve(curve('{ curve: linear, slope: 10.0, base: 5.0 }')))).toEqual([5, 15, 25]);
  });
  it('hard-soft soft 1 hard 2: 0, 1, 10 and infinity at 0, 1, 2 and above 2', () => {
    const f = compileCurve(curve('{ curve: "hard-soft", soft: 1.0, hard: 2.0 }'));
    expect([0, 1, 2, 2.0001, 3].map(f)).toEqual([0, 1, 10, Infinity, Infinity]);
    expect(f(0.5)).toBeCloseTo(0.5);
    expect(f(1.5)).toBeCloseTo(5.5);
  });
  it('soft-hard is the same curve', () => {
    const a = compileCurve(curve('{ curve: "soft-hard", soft: 1.0, hard: 2.0 }'));
    const b = compileCurve(curve('{ curve: "hard-soft", soft: 1.0, hard: 2.0 }'));
    for (const x of [0, 0.3, 1, 1.7, 2, 2.5]) expect(a(x)).toBe(b(x));
  });
  it('the two hard-soft forms with 32/48 GiB are equal everywhere', () => {
    const amounts = compileCurve(curve('{ curve: "hard-soft", soft: 32 GiB, hard: 48 GiB, softAmt: 10, hardAmt: 100 }'));
    const scaled = compileCurve(curve('{ curve: "hard-soft", soft: 32 GiB, hard: 48 GiB, scale: 10.0 }'));
    expect([0, 32 * GiB, 48 * GiB, 48 * GiB + 1].map(amounts)).toEqual([0, 10, 100, Infinity]);
    expect([0, 32 * GiB, 48 * GiB, 48 * GiB + 1].map(scaled)).toEqual([0, 10, 100, Infinity]);
    fc.assert(
      fc.property(fc.double({ min: -GiB, max: 64 * GiB, noNaN: true }), (x) => close(amounts(x), scaled(x))),
      { numRuns: 2000 },
    );
  });
  it('unavailable: 0 at or below 0, infinity above', () => {
    expect([-1, 0, 1e-9, 1].map(compileCurve(curve('{ curve: unavailable }')))).toEqual([0, 0, Infinity, Infinity]);
  });
  it('piecewise: constant 5 up to a hard cutoff at 6', () => {
    const f = compileCurve(curve('{ curve: piecewise, cutoff: 6.0, low: { curve: constant, value: 5}, high: { curve: invalid } }'));
    expect([0, 3, 6, 6.01, 100].map(f)).toEqual([5, 5, 5, Infinity, Infinity]);
  });
  it('the nested piecewise form equals hard-soft soft 1 hard 2 everywhere', () => {
    const piecewise = compileCurve(
      curve(
        '{ curve: piecewise cutoff: 1 low: { curve: linear slope: 1 base: 0 } high: { curve: piecewise cutoff: 2 low: { curve: linear slope: 9 base: -8 }, high: { curve: invalid } } }',
      ),
    );
    const hardSoft = compileCurve(curve('{ curve: "hard-soft", soft: 1, hard: 2, softAmt: 1, hardAmt: 10 }'));
    expect([0, 1, 2, 3].map(piecewise)).toEqual([0, 1, 10, Infinity]);
    fc.assert(
      fc.property(fc.double({ min: -10, max: 10, noNaN: true }), (x) => close(piecewise(x), hardSoft(x))),
      { numRuns: 2000 },
    );
  });
  it('the piecewise form of unavailable equals unavailable everywhere', () => {
    const piecewise = compileCurve(curve('{ curve: piecewise, cutoff: 0, low: { curve: constant, value: 0 }, high: { curve: invalid } }'));
    const unavailable = compileCurve(curve('{ curve: unavailable }'));
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (x) => piecewise(x) === unavailable(x)),
      { numRuns: 2000 },
    );
  });
  it('low-high and high-low are piecewise', () => {
    for (const alias of ['low-high', 'high-low']) {
      const f = compileCurve(
        curve(`{ curve: ${alias}, cutoff: 2, low: { curve: constant, value: 1 }, high: { curve: constant, value: 7 } }`),
      );
      expect([2, 3].map(f)).toEqual([1, 7]);
    }
  });
  it('scale multiplies the result, max makes input past it infinite', () => {
    const f = compileCurve(curve('{ curve: linear, slope: 1, base: 0, max: 2, scale: 3 }'));
    expect([0, 1, 2, 2.5].map(f)).toEqual([0, 3, 6, Infinity]);
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.double({ min: 0, max: 100, noNaN: true }), (x, scale) => {
        const spec: CurveSpec = { curve: 'hard-soft', soft: 10, hard: 20, softAmt: 1, hardAmt: 10, scale: 1 };
        const base = evaluateCurve(spec, x);
        const scaled = evaluateCurve({ ...spec, scale }, x);
        return base === Infinity ? scaled === Infinity : close(scaled, base * scale);
      }),
    );
  });
});
