/**
 * A persistent map from strings: `set` and `delete` return a new map that shares everything but one
 * path with the old one, which stays as it was. Aggregate states must never change under their
 * holders: a batcher folds the same cached state more than once (tentatively while deciding, then
 * with the stored events, or with other events after a conflict), so a state cannot own a mutable
 * Map, and copying a whole record per event makes folding a stream quadratic in its entries.
 *
 * A hash array mapped trie (Bagwell, "Ideal Hash Trees", 2001): 32-way branches indexed by five bits
 * of the key's hash at each level, holding only the children present (a bitmap says which), so a
 * write copies at most ~7 small arrays and a read follows as many links: O(log32 n) either way.
 */
export class PersistentMap<V> {
  private static readonly EMPTY = new PersistentMap<never>(undefined, 0);

  private constructor(
    private readonly root: Node<V> | undefined,
    /** Entries in the map. */
    readonly size: number,
  ) {}

  static empty<V>(): PersistentMap<V> {
    return PersistentMap.EMPTY;
  }

  static of<V>(entries: Iterable<readonly [string, V]>): PersistentMap<V> {
    let m = PersistentMap.empty<V>();
    for (const [k, v] of entries) m = m.set(k, v);
    return m;
  }

  get(key: string): V | undefined {
    const hash = hashOf(key);
    let node = this.root;
    for (let shift = 0; node !== undefined; shift += BITS) {
      switch (node.kind) {
        case 'leaf':
          return node.key === key ? node.value : undefined;
        case 'collision':
          return node.entries.find((e) => e.key === key)?.value;
        case 'branch': {
          const bit = bitOf(hash, shift);
          if ((node.bitmap & bit) === 0) return undefined;
          node = node.children[indexOf(node.bitmap, bit)];
        }
      }
    }
    return undefined;
  }

  has(key: string): boolean {
    return this.get(key) !== undefined;
  }

  /** The map with `key` bound to `value` (this map itself when it already was). */
  set(key: string, value: V): PersistentMap<V> {
    const leaf: Leaf<V> = { kind: 'leaf', hash: hashOf(key), key, value };
    const { node, added } = put(this.root, 0, leaf);
    return node === this.root ? this : new PersistentMap(node, this.size + (added ? 1 : 0));
  }

  /** The map without `key` (this map itself when it had none). */
  delete(key: string): PersistentMap<V> {
    const root = remove(this.root, 0, hashOf(key), key);
    return root === this.root ? this : new PersistentMap(root, this.size - 1);
  }

  /** Every entry, in no particular order. */
  entries(): [string, V][] {
    const out: [string, V][] = [];
    if (this.root !== undefined) collect(this.root, (leaf) => out.push([leaf.key, leaf.value]));
    return out;
  }

  keys(): string[] {
    const out: string[] = [];
    if (this.root !== undefined) collect(this.root, (leaf) => out.push(leaf.key));
    return out;
  }

  values(): V[] {
    const out: V[] = [];
    if (this.root !== undefined) collect(this.root, (leaf) => out.push(leaf.value));
    return out;
  }
}

const BITS = 5;
const MASK = (1 << BITS) - 1;

interface Leaf<V> {
  readonly kind: 'leaf';
  readonly hash: number;
  readonly key: string;
  readonly value: V;
}
/** Keys whose 32-bit hashes are equal: no bits left to tell them apart. */
interface Collision<V> {
  readonly kind: 'collision';
  readonly hash: number;
  readonly entries: readonly Leaf<V>[];
}
interface Branch<V> {
  readonly kind: 'branch';
  readonly bitmap: number;
  readonly children: readonly Node<V>[];
}
type Node<V> = Leaf<V> | Collision<V> | Branch<V>;

/** FNV-1a over the UTF-16 code units, 32 bits. */
function hashOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) h = Math.imul(h ^ key.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

const fragmentOf = (hash: number, shift: number): number => (hash >>> shift) & MASK;
const bitOf = (hash: number, shift: number): number => 1 << fragmentOf(hash, shift);

function popcount(bits: number): number {
  let x = bits >>> 0;
  x -= (x >>> 1) & 0x55555555;
  x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
  x = (x + (x >>> 4)) & 0x0f0f0f0f;
  return Math.imul(x, 0x01010101) >>> 24;
}

/** Where the child for `bit` sits among a branch's children. */
const indexOf = (bitmap: number, bit: number): number => popcount(bitmap & (bit - 1));

function replaced<T>(list: readonly T[], i: number, item: T): T[] {
  const copy = list.slice();
  copy[i] = item;
  return copy;
}

function put<V>(node: Node<V> | undefined, shift: number, leaf: Leaf<V>): { node: Node<V>; added: boolean } {
  if (node === undefined) return { node: leaf, added: true };
  switch (node.kind) {
    case 'leaf':
      if (node.key === leaf.key) return { node: node.value === leaf.value ? node : leaf, added: false };
      if (node.hash === leaf.hash) return { node: { kind: 'collision', hash: leaf.hash, entries: [node, leaf] }, added: true };
      return { node: split(shift, node, leaf), added: true };
    case 'collision': {
      if (node.hash !== leaf.hash) return { node: split(shift, node, leaf), added: true };
      const i = node.entries.findIndex((e) => e.key === leaf.key);
      if (i < 0) return { node: { ...node, entries: [...node.entries, leaf] }, added: true };
      if (node.entries[i]!.value === leaf.value) return { node, added: false };
      return { node: { ...node, entries: replaced(node.entries, i, leaf) }, added: false };
    }
    case 'branch': {
      const bit = bitOf(leaf.hash, shift);
      const i = indexOf(node.bitmap, bit);
      if ((node.bitmap & bit) === 0) {
        const children = [...node.children.slice(0, i), leaf, ...node.children.slice(i)];
        return { node: { kind: 'branch', bitmap: node.bitmap | bit, children }, added: true };
      }
      const child = node.children[i]!;
      const r = put(child, shift + BITS, leaf);
      if (r.node === child) return { node, added: false };
      return { node: { kind: 'branch', bitmap: node.bitmap, children: replaced(node.children, i, r.node) }, added: r.added };
    }
  }
}

/** A branch holding `a` (a leaf or collision) and `b`, whose hashes differ, from level `shift` down. */
function split<V>(shift: number, a: Leaf<V> | Collision<V>, b: Leaf<V>): Branch<V> {
  const fa = fragmentOf(a.hash, shift);
  const fb = fragmentOf(b.hash, shift);
  if (fa === fb) return { kind: 'branch', bitmap: 1 << fa, children: [split(shift + BITS, a, b)] };
  return { kind: 'branch', bitmap: (1 << fa) | (1 << fb), children: fa < fb ? [a, b] : [b, a] };
}

function remove<V>(node: Node<V> | undefined, shift: number, hash: number, key: string): Node<V> | undefined {
  if (node === undefined) return undefined;
  switch (node.kind) {
    case 'leaf':
      return node.key === key ? undefined : node;
    case 'collision': {
      const entries = node.entries.filter((e) => e.key !== key);
      if (entries.length === node.entries.length) return node;
      return entries.length === 1 ? entries[0]! : { ...node, entries };
    }
    case 'branch': {
      const bit = bitOf(hash, shift);
      if ((node.bitmap & bit) === 0) return node;
      const i = indexOf(node.bitmap, bit);
      const child = node.children[i]!;
      const next = remove(child, shift + BITS, hash, key);
      if (next === child) return node;
      if (next !== undefined) {
        // A lone leaf or collision needs no branch above it: lookups check the key where they stop.
        if (node.children.length === 1 && next.kind !== 'branch') return next;
        return { kind: 'branch', bitmap: node.bitmap, children: replaced(node.children, i, next) };
      }
      const children = [...node.children.slice(0, i), ...node.children.slice(i + 1)];
      if (children.length === 0) return undefined;
      const only = children[0]!;
      if (children.length === 1 && only.kind !== 'branch') return only;
      return { kind: 'branch', bitmap: node.bitmap & ~bit, children };
    }
  }
}

function collect<V>(node: Node<V>, each: (leaf: Leaf<V>) => void): void {
  switch (node.kind) {
    case 'leaf':
      each(node);
      return;
    case 'collision':
      node.entries.forEach(each);
      return;
    case 'branch':
      for (const c of node.children) collect(c, each);
  }
}
