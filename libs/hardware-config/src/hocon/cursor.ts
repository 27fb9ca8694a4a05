import { ConfigFileError } from '../errors.ts';
import type { Pos } from './nodes.ts';

const FORBIDDEN = new Set('$"{}[]:=,+#`^?!@*&\\'.split(''));
export const INLINE_WS = /[ \t\r\f\v\u00a0\ufeff\u2000-\u200a\u202f\u205f\u3000]/;

/** The lexical layer of the HOCON parser: a position in the text, whitespace, comments, strings. */
export class Cursor {
  protected i = 0;
  private readonly lineStarts: number[] = [0];

  constructor(
    protected readonly text: string,
    protected readonly file: string,
  ) {
    for (let k = 0; k < text.length; k++) if (text[k] === '\n') this.lineStarts.push(k + 1);
  }

  protected pos(at = this.i): Pos {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= at) lo = mid;
      else hi = mid - 1;
    }
    return { file: this.file, line: lo + 1, col: at - this.lineStarts[lo]! + 1 };
  }

  protected fail(key: string, reason: string, at = this.i): never {
    throw new ConfigFileError(this.pos(at), key, reason);
  }

  protected peek(offset = 0): string {
    return this.text[this.i + offset] ?? '';
  }

  protected atComment(): boolean {
    return this.peek() === '#' || (this.peek() === '/' && this.peek(1) === '/');
  }

  /** Skips whitespace and comments, and newlines too when `newlines`. */
  protected skip(newlines: boolean): void {
    for (;;) {
      const c = this.peek();
      if (c !== '' && INLINE_WS.test(c)) this.i++;
      else if (c === '\n' && newlines) this.i++;
      else if (this.atComment()) while (this.i < this.text.length && this.peek() !== '\n') this.i++;
      else return;
    }
  }

  protected isUnquotedChar(c: string, inKey: boolean): boolean {
    if (c === '' || c === '\n' || INLINE_WS.test(c) || FORBIDDEN.has(c)) return false;
    if (inKey && c === '.') return false;
    return !(c === '/' && this.peek(1) === '/');
  }

  protected readUnquoted(inKey: boolean): string {
    const start = this.i;
    while (this.isUnquotedChar(this.peek(), inKey)) this.i++;
    return this.text.slice(start, this.i);
  }

  protected readQuoted(key: string): string {
    if (this.text.startsWith('"""', this.i)) {
      const end = this.text.indexOf('"""', this.i + 3);
      if (end < 0) this.fail(key, 'unterminated """ string');
      let close = end + 3;
      while (this.text[close] === '"') close++; // HOCON: extra quotes before the close belong to the string
      const value = this.text.slice(this.i + 3, close - 3);
      this.i = close;
      return value;
    }
    const start = this.i;
    this.i++;
    while (this.peek() !== '"') {
      if (this.peek() === '' || this.peek() === '\n') this.fail(key, 'unterminated string', start);
      if (this.peek() === '\\') this.i++;
      this.i++;
    }
    this.i++;
    try {
      return JSON.parse(this.text.slice(start, this.i)) as string;
    } catch {
      return this.fail(key, 'invalid escape in string', start);
    }
  }
}
