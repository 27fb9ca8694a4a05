import { joinKey } from '../errors.ts';
import { Cursor, INLINE_WS } from './cursor.ts';
import { mergeField, type HArray, type HNode, type HObject, type HScalar } from './nodes.ts';

/**
 * A small recursive-descent HOCON parser (the subset Berth's configuration needs) that records
 * file, line and column for every value. Supported: braced or braceless root, `key: v`, `key = v`,
 * `key { }`, path keys (`devices.nvidia-gpu: {...}`), quoted/unquoted/triple-quoted strings, value
 * concatenation (`32 GiB`), `#` and `//` comments, comma or newline separators (one trailing comma
 * allowed), duplicate-key object merging, and `include "file"` (also `file(...)`, `required(...)`)
 * relative to the including file. Every include is required: a missing file is an error, not
 * silently skipped, because an operator's typo must not drop a section.
 * Leniency beyond HOCON: a field may follow a value on the same line without a comma
 * (`{ curve: piecewise cutoff: 1 }`), and array elements that are objects or arrays need no comma.
 * Not evaluated: substitutions `${...}` and `+=` parse (a full tiCrypt config has other sections that may
 * use them) but reading such a value in a Berth section is an error. Not supported: object/array
 * concatenation.
 */

export interface IncludedFile {
  /** Name to show in errors and to resolve this file's own includes against. */
  readonly file: string;
  readonly text: string;
}

/** Resolves an include written in `fromFile`; undefined when the file does not exist. */
export type ReadInclude = (name: string, fromFile: string) => IncludedFile | undefined;

export interface HoconOptions {
  readonly file: string;
  readonly readInclude?: ReadInclude;
}

const MAX_INCLUDE_DEPTH = 16;

export function parseHocon(text: string, options: HoconOptions): HObject {
  return new Parser(text, options.file, options.readInclude, [options.file]).parseRoot();
}

class Parser extends Cursor {
  constructor(
    text: string,
    file: string,
    private readonly readInclude: ReadInclude | undefined,
    private readonly includeStack: readonly string[],
  ) {
    super(text, file);
  }

  parseRoot(): HObject {
    this.skip(true);
    if (this.peek() === '{') {
      const root = this.parseObject('');
      this.skip(true);
      if (this.i < this.text.length) this.fail('', 'unexpected text after the closing "}" of the root object');
      return root;
    }
    const root: HObject = { kind: 'object', fields: new Map(), pos: this.pos(0) };
    this.parseFields(root, '', null);
    return root;
  }

  /** Fields until `close` ('}' or ']' never; null = end of text for a braceless root). */
  private parseFields(target: HObject, prefix: string, close: '}' | null): void {
    for (;;) {
      this.skip(true);
      if (close !== null && this.peek() === close) {
        this.i++;
        return;
      }
      if (this.peek() === '') {
        if (close === null) return;
        this.fail(prefix, `missing "${close}" to close the object opened at line ${target.pos.line}`);
      }
      if (this.startsInclude()) this.parseInclude(target, prefix);
      else this.parseField(target, prefix);
      this.skip(false);
      if (this.peek() === ',') this.i++;
    }
  }

  private startsInclude(): boolean {
    if (!this.text.startsWith('include', this.i)) return false;
    const rest = this.text.slice(this.i + 7);
    return /^[ \t]+("|file\(|required\(|url\(|classpath\()/.test(rest);
  }

  private parseInclude(target: HObject, prefix: string): void {
    const at = this.i;
    this.i += 7;
    this.skip(false);
    const wrappers: string[] = [];
    for (;;) {
      const m = /^(required|file|url|classpath)\(/.exec(this.text.slice(this.i));
      if (!m) break;
      if (m[1] === 'url' || m[1] === 'classpath') this.fail(prefix, `include ${m[1]}(...) is not supported; use a file path`);
      wrappers.push(m[1]!);
      this.i += m[0].length;
    }
    if (this.peek() !== '"') this.fail(prefix, 'include needs a quoted file name');
    const name = this.readQuoted(prefix);
    for (const _ of wrappers) {
      if (this.peek() !== ')') this.fail(prefix, 'expected ")" closing the include');
      this.i++;
    }
    if (!this.readInclude) this.fail(prefix, `cannot include "${name}": includes are not available here`, at);
    const included = this.readInclude(name, this.file);
    if (!included) this.fail(prefix, `included file "${name}" not found`, at);
    if (this.includeStack.includes(included.file))
      this.fail(prefix, `include cycle: ${[...this.includeStack, included.file].join(' -> ')}`, at);
    if (this.includeStack.length >= MAX_INCLUDE_DEPTH) this.fail(prefix, 'includes nested too deeply', at);
    const child = new Parser(included.text, included.file, this.readInclude, [...this.includeStack, included.file]);
    for (const [k, v] of child.parseRoot().fields) mergeField(target, k, v);
  }

  private parseKeyPath(prefix: string): string[] {
    const segments: string[] = [];
    for (;;) {
      let segment: string;
      if (this.peek() === '"') segment = this.readQuoted(prefix);
      else {
        segment = this.readUnquoted(true);
        if (segment === '') this.fail(prefix, `expected a key, found ${describe(this.peek())}`);
      }
      segments.push(segment);
      if (this.peek() !== '.') return segments;
      this.i++;
    }
  }

  private parseField(target: HObject, prefix: string): void {
    const keyAt = this.i;
    const path = this.parseKeyPath(prefix);
    const key = path.reduce(joinKey, prefix);
    this.skip(false);
    let value: HNode;
    if (this.peek() === '{') value = this.parseObject(key);
    else if (this.peek() === ':' || this.peek() === '=') {
      this.i++;
      this.skip(true);
      value = this.parseValue(key, true);
    } else if (this.peek() === '+' && this.peek(1) === '=') {
      const at = this.pos();
      this.i += 2;
      this.skip(true);
      this.parseValue(key, true);
      value = { kind: 'scalar', text: '', quoted: false, pos: at, unsupported: '"+=" is not supported' };
    } else this.fail(key, `expected ":", "=" or "{" after the key, found ${describe(this.peek())}`);
    let obj = target;
    for (const segment of path.slice(0, -1)) {
      let next = obj.fields.get(segment);
      if (next?.kind !== 'object') {
        next = { kind: 'object', fields: new Map(), pos: this.pos(keyAt) };
        obj.fields.set(segment, next);
      }
      obj = next;
    }
    mergeField(obj, path[path.length - 1]!, value);
  }

  private parseObject(key: string): HObject {
    const obj: HObject = { kind: 'object', fields: new Map(), pos: this.pos() };
    this.i++;
    this.parseFields(obj, key, '}');
    return obj;
  }

  private parseArray(key: string): HArray {
    const arr: HArray = { kind: 'array', items: [], pos: this.pos() };
    this.i++;
    for (;;) {
      this.skip(true);
      if (this.peek() === ']') {
        this.i++;
        return arr;
      }
      if (this.peek() === '') this.fail(key, `missing "]" to close the array opened at line ${arr.pos.line}`);
      arr.items.push(this.parseValue(`${key}[${arr.items.length}]`, false));
      this.skip(false);
      if (this.peek() === ',') this.i++;
    }
  }

  private parseValue(key: string, inObject: boolean): HNode {
    const c = this.peek();
    if (c === '{') return this.parseObject(key);
    if (c === '[') return this.parseArray(key);
    return this.parseConcatenation(key, inObject);
  }

  /** Simple values on one line joined with the whitespace between them: `32 GiB`, `Pool 1`. */
  private parseConcatenation(key: string, inObject: boolean): HScalar {
    const start = this.i;
    let text = '';
    let quoted = false;
    let substitution: string | undefined;
    for (;;) {
      if (this.peek() === '"') {
        text += this.readQuoted(key);
        quoted = true;
      } else if (this.peek() === '$' && this.peek(1) === '{') {
        const close = this.text.indexOf('}', this.i);
        const nl = this.text.indexOf('\n', this.i);
        if (close < 0 || (nl >= 0 && nl < close)) this.fail(key, 'unterminated substitution "${"');
        substitution ??= this.text.slice(this.i, close + 1);
        text += substitution;
        this.i = close + 1;
      } else {
        const chunk = this.readUnquoted(false);
        if (chunk === '') this.fail(key, `expected a value, found ${describe(this.peek())}`);
        text += chunk;
      }
      const wsStart = this.i;
      while (INLINE_WS.test(this.peek()) && this.peek() !== '') this.i++;
      const next = this.peek();
      if (next === '{' || next === '[') this.fail(key, 'object or array concatenation is not supported');
      const continues = next === '"' || this.isUnquotedChar(next, false) || (next === '$' && this.peek(1) === '{');
      if (!continues || (inObject && this.fieldStartsHere())) {
        this.i = wsStart;
        const pos = this.pos(start);
        return substitution === undefined
          ? { kind: 'scalar', text, quoted, pos }
          : { kind: 'scalar', text, quoted, pos, unsupported: `substitutions (${substitution}) are not supported` };
      }
      text += this.text.slice(wsStart, this.i);
    }
  }

  /** Whether the text here is `key:`, `key =` or `key {` (a field written without a comma before it). */
  private fieldStartsHere(): boolean {
    const m = /^("[^"\n]*"|[^\s"$"{}[\]:=,+#`^?!@*&\\]+)(\.("[^"\n]*"|[^\s"$"{}[\]:=,+#`^?!@*&\\.]+))*[ \t]*[:={]/.exec(
      this.text.slice(this.i, this.i + 200),
    );
    return m !== null && !m[0].startsWith('//');
  }
}

function describe(c: string): string {
  return c === '' ? 'end of file' : c === '\n' ? 'end of line' : `"${c}"`;
}
