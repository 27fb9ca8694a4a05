import { isMap, isScalar, isSeq, LineCounter, parseDocument, Scalar, type Node } from 'yaml';
import { ConfigFileError, joinKey } from '../errors.ts';
import type { HNode, HObject } from './nodes.ts';

/** Reads YAML into the same positioned tree as HOCON, so one decoder serves every format. */
export function parseYamlTree(text: string, file: string): HObject {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false });
  const first = doc.errors[0];
  if (first)
    throw new ConfigFileError(
      { file, line: lineCounter.linePos(first.pos[0]).line },
      '',
      `YAML syntax error: ${first.message.split('\n')[0]}`,
    );
  const at = (node: Node | null | undefined) => {
    const { line, col } = lineCounter.linePos(node?.range?.[0] ?? 0);
    return { file, line, col };
  };
  const convert = (node: Node | null | undefined, key: string): HNode => {
    if (isMap(node)) {
      const obj: HObject = { kind: 'object', fields: new Map(), pos: at(node) };
      for (const pair of node.items) {
        const k = isScalar(pair.key) ? String(pair.key.value) : undefined;
        if (k === undefined) throw new ConfigFileError(at(node), key, 'keys must be plain strings');
        obj.fields.set(k, convert(pair.value as Node | null, joinKey(key, k)));
      }
      return obj;
    }
    if (isSeq(node)) {
      return { kind: 'array', items: node.items.map((item, n) => convert(item as Node | null, `${key}[${n}]`)), pos: at(node) };
    }
    if (isScalar(node) || node == null) {
      const value: unknown = node?.value ?? null;
      const quoted = node?.type === Scalar.QUOTE_DOUBLE || node?.type === Scalar.QUOTE_SINGLE;
      if (value !== null && typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
        throw new ConfigFileError(at(node), key, 'unsupported YAML value');
      }
      return { kind: 'scalar', text: value === null ? 'null' : String(value), quoted, pos: at(node) };
    }
    throw new ConfigFileError(at(node), key, 'unsupported YAML node (aliases and tags are not accepted)');
  };
  const root = convert(doc.contents, '');
  if (root.kind !== 'object') throw new ConfigFileError(root.pos, '', 'the document must be a mapping');
  return root;
}
