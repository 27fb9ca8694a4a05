/**
 * `f` computed once per object: later calls with the same object answer from a WeakMap. For the
 * encodings of immutable parts of the state (a claim, a spec, an explanation) that every answer
 * about a VM or host repeats; nothing may change an answer handed out.
 */
export function perObject<K extends object, V>(f: (k: K) => V): (k: K) => V {
  const done = new WeakMap<K, V>();
  return (k) => {
    let v = done.get(k);
    if (v === undefined) {
      v = f(k);
      done.set(k, v);
    }
    return v;
  };
}
