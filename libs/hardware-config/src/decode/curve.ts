import { joinKey } from '../errors.ts';
import type { HNode } from '../hocon/nodes.ts';
import type { CurveCommon, CurveSpec, CurveType } from '../model.ts';
import { asNumber, asObject, asRealOrBytes, asString, checkKnown, fail, optional, required } from './read.ts';

/** Curve type names as written (tiCrypt's aliases included) -> the normalised type. The wire codec reads the same table. */
export const CURVE_ALIASES: Readonly<Record<string, CurveType>> = {
  constant: 'constant',
  invalid: 'invalid',
  linear: 'linear',
  'hard-soft': 'hard-soft',
  'soft-hard': 'hard-soft',
  unavailable: 'unavailable',
  piecewise: 'piecewise',
  'low-high': 'piecewise',
  'high-low': 'piecewise',
};

/** Values of the optional curve parameters when absent. */
export const CURVE_DEFAULTS = { scale: 1, softAmt: 1, hardAmt: 10 } as const;

const COMMON = ['curve', 'scale', 'max'];
const PARAMS: Readonly<Record<CurveType, readonly string[]>> = {
  constant: ['value'],
  invalid: [],
  linear: ['slope', 'base'],
  'hard-soft': ['soft', 'hard', 'softAmt', 'hardAmt'],
  unavailable: [],
  piecewise: ['cutoff', 'low', 'high'],
};

/** A tiCrypt curve (`{ curve: hard-soft, soft: 16 GiB, hard: 32 GiB }`), aliases and defaults resolved. */
export function decodeCurve(node: HNode, key: string): CurveSpec {
  const obj = asObject(node, key, 'a curve ({ curve: <type>, ... })');
  const typeKey = joinKey(key, 'curve');
  const written = asString(required(obj, key, 'curve'), typeKey).trim();
  const curve = CURVE_ALIASES[written];
  if (curve === undefined)
    fail(obj.fields.get('curve')!, typeKey, `unknown curve type "${written}" (expected one of: ${Object.keys(CURVE_ALIASES).join(', ')})`);
  checkKnown(obj, key, [...COMMON, ...PARAMS[curve]]);
  const scale = optional(obj, key, 'scale', asNumber) ?? CURVE_DEFAULTS.scale;
  const max = optional(obj, key, 'max', asRealOrBytes);
  const common: CurveCommon = max === undefined ? { scale } : { scale, max };
  const real = (name: string) => asRealOrBytes(required(obj, key, name), joinKey(key, name));
  switch (curve) {
    case 'constant':
      return { curve, ...common, value: asNumber(required(obj, key, 'value'), joinKey(key, 'value')) };
    case 'invalid':
    case 'unavailable':
      return { curve, ...common };
    case 'linear':
      return { curve, ...common, slope: real('slope'), base: real('base') };
    case 'hard-soft': {
      const soft = real('soft');
      const hard = real('hard');
      if (!(hard > soft)) fail(obj.fields.get('hard')!, joinKey(key, 'hard'), `must be greater than soft (${soft})`);
      const softAmt = optional(obj, key, 'softAmt', asNumber) ?? CURVE_DEFAULTS.softAmt;
      const hardAmt = optional(obj, key, 'hardAmt', asNumber) ?? CURVE_DEFAULTS.hardAmt;
      return { curve, ...common, soft, hard, softAmt, hardAmt };
    }
    case 'piecewise':
      return {
        curve,
        ...common,
        cutoff: real('cutoff'),
        low: decodeCurve(required(obj, key, 'low'), joinKey(key, 'low')),
        high: decodeCurve(required(obj, key, 'high'), joinKey(key, 'high')),
      };
  }
}
