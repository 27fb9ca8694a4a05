/**
 * The Python values MOM's evaluator works with, and Python's rules for them.
 * int = bigint (arbitrary precision, as Python), float = number, bool = boolean, None = null,
 * str = string, list = array, dict = PyDict. Entities and other objects implement PyObject.
 */

export type Value = null | boolean | bigint | number | string | readonly Value[] | PyDict | PyCallable | PyObject;

export const isList = (v: Value): v is readonly Value[] => Array.isArray(v);

export class PyDict {
  constructor(readonly map: Map<string, Value>) {}
}

/** An object whose attributes a policy can read as `name.attr`. */
export abstract class PyObject {
  abstract readonly typeName: string;
  /** The attribute, or undefined when the object has none (hasattr false). */
  abstract getAttr(name: string): Value | undefined;
  /** Python's len(), or undefined when the object has no length. */
  len(): number | undefined {
    return undefined;
  }
  /** Python's iter(), or undefined when the object is not iterable. */
  iter(): readonly Value[] | undefined {
    return undefined;
  }
}

/** A Python callable reachable from a policy: externs, entity methods, IoTune setters. */
export class PyCallable {
  constructor(
    readonly name: string,
    readonly fn: (args: readonly Value[]) => Value,
  ) {}
}

/** A Python exception raised while evaluating (TypeError, KeyError, ZeroDivisionError, ...). */
export class PyException extends Error {
  constructor(
    readonly pyType: string,
    message: string,
  ) {
    super(`${pyType}: ${message}`);
  }
}

export const typeError = (m: string): PyException => new PyException('TypeError', m);

/** A short Python-like text of a value, for messages. */
export function repr(v: Value): string {
  if (v === null) return 'None';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  if (typeof v === 'string') return `'${v}'`;
  if (Array.isArray(v)) return `[${v.map((x) => repr(x as Value)).join(', ')}]`;
  return `<${typeName(v)}>`;
}

export function typeName(v: Value): string {
  if (v === null) return 'NoneType';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'string') return 'str';
  if (Array.isArray(v)) return 'list';
  if (v instanceof PyDict) return 'dict';
  if (v instanceof PyCallable) return 'method';
  return (v as PyObject).typeName;
}

export function truthy(v: Value): boolean {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'bigint') return v !== 0n;
  if (typeof v === 'number') return v !== 0; // NaN is true, as in Python
  if (typeof v === 'string') return v.length > 0;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof PyDict) return v.map.size > 0;
  if (v instanceof PyObject) {
    const n = v.len();
    return n === undefined ? true : n > 0;
  }
  return true;
}

export function pyLen(v: Value): number | undefined {
  if (typeof v === 'string') return [...v].length;
  if (Array.isArray(v)) return v.length;
  if (v instanceof PyDict) return v.map.size;
  if (v instanceof PyObject) return v.len();
  return undefined;
}

export function pyIter(v: Value): readonly Value[] {
  if (typeof v === 'string') return [...v];
  if (isList(v)) return v;
  if (v instanceof PyDict) return [...v.map.keys()];
  if (v instanceof PyObject) {
    const items = v.iter();
    if (items !== undefined) return items;
  }
  throw typeError(`'${typeName(v)}' object is not iterable`);
}

type Num = bigint | number;

/** int, float or bool as a number kind, bool as int; undefined for anything else. */
function num(v: Value): Num | undefined {
  if (typeof v === 'bigint' || typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  return undefined;
}

/** Python's float(int): exact rounding, OverflowError past the float range. */
export function intToFloat(i: bigint): number {
  const f = Number(i);
  if (!Number.isFinite(f)) throw new PyException('OverflowError', 'int too large to convert to float');
  return f;
}

const asFloat = (n: Num): number => (typeof n === 'bigint' ? intToFloat(n) : n);

function unsupported(op: string, a: Value, b: Value): PyException {
  return typeError(`unsupported operand type(s) for ${op}: '${typeName(a)}' and '${typeName(b)}'`);
}

const MAX_SEQUENCE = 10_000_000;

function repeat(seq: string | readonly Value[], times: bigint): Value {
  const n = times < 0n ? 0 : Number(times);
  if (n * (typeof seq === 'string' ? seq.length : seq.length) > MAX_SEQUENCE) throw new PyException('MemoryError', 'sequence too long');
  if (typeof seq === 'string') return seq.repeat(n);
  const out: Value[] = [];
  for (let i = 0; i < n; i++) out.push(...seq);
  return out;
}

export function add(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x + y;
    return asFloat(x) + asFloat(y);
  }
  if (typeof a === 'string' && typeof b === 'string') return a + b;
  if (Array.isArray(a) && Array.isArray(b)) return [...(a as Value[]), ...(b as Value[])];
  throw unsupported('+', a, b);
}

export function sub(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) throw unsupported('-', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') return x - y;
  return asFloat(x) - asFloat(y);
}

export function mul(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) {
    if (typeof x === 'bigint' && typeof y === 'bigint') return x * y;
    return asFloat(x) * asFloat(y);
  }
  if ((typeof a === 'string' || Array.isArray(a)) && typeof y === 'bigint') return repeat(a as string | Value[], y);
  if ((typeof b === 'string' || Array.isArray(b)) && typeof x === 'bigint') return repeat(b as string | Value[], x);
  throw unsupported('*', a, b);
}

const TWO53 = 2n ** 53n;

/** Python 3 true division: always a float, ZeroDivisionError on a zero divisor. */
export function div(a: Value, b: Value): Value {
  const x = num(a);
  const y = num(b);
  if (x === undefined || y === undefined) throw unsupported('/', a, b);
  if (typeof x === 'bigint' && typeof y === 'bigint') {
    if (y === 0n) throw new PyException('ZeroDivisionError', 'division by zero');
    const ax = x < 0n ? -x : x;
    const ay = y < 0n ? -y : y;
    // Both exact as doubles: one IEEE division is correctly rounded, as CPython's.
    if (ax <= TWO53 && ay <= TWO53) return Number(x) / Number(y);
    return intToFloat(x) / intToFloat(y);
  }
  const fy = asFloat(y);
  if (fy === 0) throw new PyException('ZeroDivisionError', 'float division by zero');
  return asFloat(x) / fy;
}

function shiftOperands(op: string, a: Value, b: Value): [bigint, bigint] {
  const x = num(a);
  const y = num(b);
  if (typeof x !== 'bigint' || typeof y !== 'bigint') throw unsupported(op, a, b);
  if (y < 0n) throw new PyException('ValueError', 'negative shift count');
  if (y > 1_000_000n) throw new PyException('OverflowError', 'shift count too large');
  return [x, y];
}

export function shl(a: Value, b: Value): Value {
  const [x, y] = shiftOperands('<<', a, b);
  return x << y;
}

export function shr(a: Value, b: Value): Value {
  const [x, y] = shiftOperands('>>', a, b);
  return x >> y;
}

export function pyAbs(a: Value): Value {
  const x = num(a);
  if (x === undefined) throw typeError(`bad operand type for abs(): '${typeName(a)}'`);
  if (typeof x === 'bigint') return x < 0n ? -x : x;
  return Math.abs(x);
}

export function eq(a: Value, b: Value): boolean {
  if (a === b) return typeof a !== 'number' || !Number.isNaN(a);
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) {
    if (typeof x === 'number' && typeof y === 'number') return x === y;
    // bigint == number in JS compares the mathematical values exactly, as Python does.
    return x == y;
  }
  if (Array.isArray(a) && Array.isArray(b)) {
    if (a.length !== b.length) return false;
    for (let i = 0; i < a.length; i++) if (!eq(a[i] as Value, b[i] as Value)) return false;
    return true;
  }
  if (a instanceof PyDict && b instanceof PyDict) {
    if (a.map.size !== b.map.size) return false;
    for (const [k, v] of a.map) {
      if (!b.map.has(k) || !eq(v, b.map.get(k)!)) return false;
    }
    return true;
  }
  return false;
}

export type CompareOp = '<' | '>' | '<=' | '>=';

export function compare(op: CompareOp, a: Value, b: Value): boolean {
  const x = num(a);
  const y = num(b);
  if (x !== undefined && y !== undefined) return cmpPrimitive(op, x, y);
  if (typeof a === 'string' && typeof b === 'string') return cmpPrimitive(op, a, b);
  if (Array.isArray(a) && Array.isArray(b)) {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      if (!eq(a[i] as Value, b[i] as Value)) return compare(op, a[i] as Value, b[i] as Value);
    }
    return cmpPrimitive(op, a.length, b.length);
  }
  throw typeError(`'${op}' not supported between instances of '${typeName(a)}' and '${typeName(b)}'`);
}

function cmpPrimitive(op: CompareOp, x: Num | string, y: Num | string): boolean {
  switch (op) {
    case '<':
      return x < y;
    case '>':
      return x > y;
    case '<=':
      return x <= y;
    case '>=':
      return x >= y;
  }
}

/** Python's int() of what `int_or_none` may receive (MOM's IoTune setters). */
export function toInt(v: Value): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) throw new PyException(Number.isNaN(v) ? 'ValueError' : 'OverflowError', 'cannot convert float to integer');
    return BigInt(Math.trunc(v));
  }
  if (typeof v === 'string' && /^\s*[+-]?[0-9](?:_?[0-9])*\s*$/.test(v)) return BigInt(v.trim().replace(/_/g, ''));
  throw new PyException(typeof v === 'string' ? 'ValueError' : 'TypeError', `int() cannot convert '${typeName(v)}'`);
}
