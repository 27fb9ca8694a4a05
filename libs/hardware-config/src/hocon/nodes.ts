/** The parsed tree every format (HOCON, JSON, YAML) is turned into: values with the place they were written. */

export interface Pos {
  readonly file: string;
  readonly line: number;
  readonly col: number;
}

export interface HObject {
  readonly kind: 'object';
  readonly fields: Map<string, HNode>;
  readonly pos: Pos;
}

export interface HArray {
  readonly kind: 'array';
  readonly items: HNode[];
  readonly pos: Pos;
}

/** A simple value kept as written (`32 GiB`, `1.0`, `on`); the schema decides what it means. */
export interface HScalar {
  readonly kind: 'scalar';
  readonly text: string;
  /** Written as a quoted string (so `"null"` is a string, `null` is null). */
  readonly quoted: boolean;
  readonly pos: Pos;
  /**
   * Set for HOCON Berth parses but cannot evaluate (`${...}` substitutions, `+=`): harmless in sections
   * Berth ignores, an error with this reason when a Berth section reads the value.
   */
  readonly unsupported?: string;
}

export type HNode = HObject | HArray | HScalar;

/** Sets `node` at `key`, merging objects as HOCON does (later fields win, objects merge deeply). */
export function mergeField(target: HObject, key: string, node: HNode): void {
  const existing = target.fields.get(key);
  if (existing?.kind === 'object' && node.kind === 'object') {
    for (const [k, v] of node.fields) mergeField(existing, k, v);
    return;
  }
  target.fields.set(key, node);
}
