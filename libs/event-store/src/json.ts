/**
 * Event data as JSON text: the encoding an append stores, which rejects what JSON would silently
 * change (NaN, a function, a cycle, U+0000), and a scan that tells when the caller's value can stand
 * for the stored copy.
 */

/** Encodes `value` as JSON or throws a string reason; rejects what JSON would silently change. */
export function toJson(value: unknown): string {
  return encodeData(value).json;
}

/**
 * The strict encoding alone, which toJson was before the scan: the baseline its equivalence test and
 * benchmark compare against.
 */
export const strictToJson = (value: unknown): string => checked(strictJson(value));

/** Text JSON can store: rejects no text at all (a top-level undefined) and U+0000 (jsonb cannot hold it). */
function checked(json: string | undefined): string {
  if (json === undefined) throw new Error('must be JSON-serialisable (got undefined)');
  if (json.includes('\\u0000')) throw new Error('must not contain the NUL character (\\u0000)');
  return json;
}

/**
 * The strict encoding: JSON.stringify with a replacer that throws on what JSON would drop or turn
 * into null. Exact but slow (V8 calls back into JS for every key), so it only decides the values
 * the scan below cannot vouch for, which includes every value it rejects.
 */
function strictJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value, (_key, v: unknown) => {
      if (typeof v === 'number' && !Number.isFinite(v)) throw new Error(`${v} has no JSON form`);
      if (typeof v === 'function' || typeof v === 'symbol') throw new Error(`a ${typeof v} has no JSON form`);
      return v;
    });
  } catch (e) {
    throw new Error(`must be JSON-serialisable (${e instanceof Error ? e.message : String(e)})`);
  }
}

/** JSON.parse(JSON.stringify(v)) deep-equals v (see encodeData); the replacer would not throw either. */
const SAME = 0;
/** The replacer would not throw, so plain JSON.stringify gives the strict text; the round trip changes v (a Date, undefined, -0, a hole, a class instance). */
const SAFE = 1;
/** Might hold what the replacer rejects (NaN, Infinity, function, symbol) or what stringify throws on (bigint, a cycle), or has a toJSON other than Date's: the strict path decides. */
const UNSURE = 2;
/** Deeper or larger values (and cycles, which run into these limits) go the strict way. */
const MAX_DEPTH = 100;
const MAX_OBJECTS = 100_000;
const dateToJson: unknown = Reflect.get(Date.prototype, 'toJSON');
let objectBudget = 0;

/**
 * Visits what JSON.stringify visits (enumerable string keys, array indexes up to length) without
 * calling toJSON or keeping ancestors: V8's stringify costs ~40 ns per value here, this ~15 ns.
 */
function scan(v: unknown, depth: number): number {
  switch (typeof v) {
    case 'string':
    case 'boolean':
      return SAME;
    case 'number':
      if (v === 0) return 1 / v > 0 ? SAME : SAFE; // -0 comes back as 0
      return v - v === 0 ? SAME : UNSURE; // NaN and ±Infinity give NaN
    case 'undefined':
      return SAFE; // dropped from objects, null in arrays; at the top: no JSON at all
    case 'object':
      if (v === null) return SAME;
      break;
    case 'function':
    case 'symbol':
    case 'bigint':
      return UNSURE;
  }
  if (depth > MAX_DEPTH || --objectBudget < 0) return UNSURE;
  const o = v as Record<string, unknown>;
  const proto: unknown = Object.getPrototypeOf(o);
  let verdict = SAME;
  if (proto === Object.prototype) {
    // Object.prototype has no toJSON (encodeData checks), so only an own one counts.
    for (const k in o) {
      if (k === 'toJSON') return UNSURE;
      const r = scan(o[k], depth + 1);
      if (r === UNSURE) return UNSURE;
      verdict |= r;
    }
    return verdict;
  }
  if (o['toJSON'] !== undefined) return v instanceof Date && o['toJSON'] === dateToJson ? SAFE : UNSURE;
  if (Array.isArray(o)) {
    if (proto !== Array.prototype) verdict = SAFE;
    for (let i = 0; i < o.length; i++) {
      const r = scan(o[i], depth + 1);
      if (r === UNSURE) return UNSURE;
      verdict |= r;
    }
    return verdict;
  }
  // Another prototype: a class instance, Map, boxed primitive, null-prototype object... (for-in also
  // visits inherited enumerable keys, which stringify skips: more checks, never fewer).
  for (const k in o) if (scan(o[k], depth + 1) === UNSURE) return UNSURE;
  return SAFE;
}

/**
 * `toJson` plus whether the value itself can stand for its stored form. JSON.stringify without a
 * replacer when the scan shows the replacer would not throw: the identity replacer changes nothing,
 * so the text is the strict one; everything else (all that is rejected) goes the strict way, with its
 * reasons and its order. `same` is true when JSON.parse(json) would deep-equal `value`: it holds only
 * null, booleans, strings, finite numbers other than -0, arrays without holes or undefined, and
 * objects with Object.prototype as prototype and no undefined values. For those the round trip is
 * the identity — strings round-trip exactly, finite doubles print as the shortest text that parses
 * back to them, and own enumerable string keys keep their order — so appends hand the caller's
 * object back as StoredEvent.data instead of parsing it again. Not checked (never met in events):
 * accessor, non-enumerable or symbol-keyed properties, or named properties on arrays, which the stored
 * copy would not have (nor getters that answer differently on each read).
 * Dates, toJSON and undefined members make `same` false, and the data is then parsed from `json`.
 */
export function encodeData(value: unknown): { json: string; same: boolean } {
  let verdict: number;
  const outerBudget = objectBudget; // a getter could call back in
  objectBudget = MAX_OBJECTS;
  try {
    verdict = (Object.prototype as { toJSON?: unknown }).toJSON === undefined ? scan(value, 0) : UNSURE;
  } catch {
    verdict = UNSURE; // a throwing getter: the strict path throws it again, or decides
  } finally {
    objectBudget = outerBudget;
  }
  let json: string | undefined;
  if (verdict === UNSURE) json = strictJson(value);
  else {
    try {
      json = JSON.stringify(value);
    } catch (e) {
      throw new Error(`must be JSON-serialisable (${e instanceof Error ? e.message : String(e)})`);
    }
  }
  return { json: checked(json), same: verdict === SAME };
}
