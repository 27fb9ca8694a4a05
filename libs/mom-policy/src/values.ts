/**
 * The Python values MOM's evaluator works with, and Python's rules for them.
 * int = bigint (arbitrary precision, as Python), float = number, bool = boolean, None = null,
 * str = string, list = array, dict = PyDict. Entities and other objects implement PyObject.
 * Python's operators on them (arithmetic, comparison, equality) are in operators.ts.
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
