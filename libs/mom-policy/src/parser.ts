import { scan, symbolToken, type Token } from './lexer.ts';

/**
 * MOM's grammar (Parser.py): `value_list ::= value+`, `value ::= operator | number | symbol | string |
 * list | curly_list | bracket_list`, `list ::= ( value* )`, `bracket_list ::= [ value* ]`,
 * `curly_list ::= { value* }`. A curly list becomes `(eval ...)` (a sequence); `[...]` is an ordinary
 * list. The start rule needs at least one value, so a text without any expression is a parse error.
 */
export type Code = Token | CodeList;
export interface CodeList extends ReadonlyArray<Code> {
  /** Line of the opening bracket (for error messages). */
  readonly line?: number;
}

/** A parse error at a 1-based line of the scanned text. */
export class SyntaxProblem extends Error {
  constructor(
    readonly line: number,
    readonly reason: string,
    readonly empty = false,
  ) {
    super(reason);
  }
}

const CLOSE: Record<string, string> = { '(': ')', '[': ']', '{': '}' };

export interface ParsedText {
  readonly code: readonly Code[];
  readonly swallowedAt?: { offset: number; line: number };
  readonly lineCount: number;
}

/** Scans and parses one text; throws SyntaxProblem. Iterative, so deep nesting cannot overflow. */
export function parseText(text: string): ParsedText {
  const { tokens, swallowedAt } = scan(text);
  const top: Code[] = [];
  const stack: { open: Token; items: Code[] }[] = [];
  for (const t of tokens) {
    const items = stack.length > 0 ? stack[stack.length - 1]!.items : top;
    switch (t.kind) {
      case '(':
      case '[':
      case '{':
        stack.push({ open: t, items: t.kind === '{' ? [symbolToken('eval', t.line, t.offset)] : [] });
        break;
      case ')':
      case ']':
      case '}': {
        const frame = stack.pop();
        if (frame === undefined) throw new SyntaxProblem(t.line, `unexpected '${t.value}'`);
        if (CLOSE[frame.open.kind] !== t.kind) {
          throw new SyntaxProblem(t.line, `'${t.value}' closes '${frame.open.kind}' opened on line ${frame.open.line}`);
        }
        const list = Object.assign(frame.items, { line: frame.open.line });
        (stack.length > 0 ? stack[stack.length - 1]!.items : top).push(list);
        break;
      }
      case 'number':
      case 'operator':
      case 'string':
      case 'symbol':
        items.push(t);
    }
  }
  const lineCount = text.split('\n').length;
  if (stack.length > 0) {
    const open = stack[stack.length - 1]!.open;
    const where = swallowedAt ? ` (the text from line ${swallowedAt.line} on was swallowed: an unrecognised character)` : '';
    throw new SyntaxProblem(swallowedAt?.line ?? open.line, `'${open.kind}' opened on line ${open.line} is never closed${where}`);
  }
  if (top.length === 0) throw new SyntaxProblem(1, 'no expression (MOM rejects a policy without one)', true);
  return swallowedAt ? { code: top, swallowedAt, lineCount } : { code: top, lineCount };
}
