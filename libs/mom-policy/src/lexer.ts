/**
 * MOM's scanner (mom/Policy/Parser.py + spark's GenericScanner), rule for rule.
 *
 * spark joins every `t_*` pattern into one alternation in the order of `dir()` — alphabetical — and
 * takes the FIRST alternative that matches at the current position (not the longest). So the order
 * below is: builtin_op, float, hex, integer, integer_with_exponent, octal, pound_comment,
 * single_quote_string, string, symbol, user_op, whitespace, and last `t_default`, which swallows the
 * rest of the input silently: one stray character (`;`, `=`, `007`, `@`) ends the policy there.
 * Consequences kept on purpose:
 * - `and`, `or`, `not`, `min`, `max`, `null`, `valid` lex as symbols (symbol precedes user_op);
 * - `1e3` is a float, `-5` one integer token, `- 5` an operator and an integer;
 * - `0o19` lexes (as octal) and fails only when evaluated;
 * - a `#` comment needs its newline: a comment on the last line is eaten by `t_default` (harmless).
 */

export type NumberKind = 'float' | 'integer' | 'hex' | 'octal';

export interface Token {
  readonly kind: 'symbol' | 'string' | 'number' | 'operator' | '(' | ')' | '{' | '}' | '[' | ']';
  readonly value: string;
  readonly numberKind?: NumberKind;
  /** A number token's value, as Python's float()/int(s, 0) reads it; undefined when int() would
   *  raise (an octal literal with 8 or 9 in it: it lexes, and fails when evaluated). */
  readonly number?: bigint | number;
  /** A symbol split as MOM's VariableStack.get splits it: `a.b.c` is `a` and `b` (c ignored). */
  readonly head?: string;
  readonly attr?: string;
  /** 1-based line in the scanned text (real lines; MOM's own count skips comment newlines). */
  readonly line: number;
  readonly offset: number;
}

export interface ScanResult {
  readonly tokens: Token[];
  /** Where `t_default` swallowed the rest of the text, if it did. */
  readonly swallowedAt?: { offset: number; line: number };
}

// The ASCII and Unicode characters Python's `\s` matches in a str pattern (str.isspace()).
const WS = '\\t\\n\\x0b\\x0c\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

// The float rule is `-?(0|([1-9][0-9]*))*(\.[0-9]+)([Ee][+-]?[0-9]+)?`; any run of digits splits into
// those pieces, so `-?[0-9]*` accepts the same strings (without the exponential backtracking).
const RULES: readonly { name: string; re: RegExp }[] = [
  { name: 'builtin_op', re: /[(){}[\]]/y },
  { name: 'float', re: /-?[0-9]*\.[0-9]+(?:[Ee][+-]?[0-9]+)?/y },
  { name: 'hex', re: /0[Xx][0-9A-Fa-f]+/y },
  { name: 'integer', re: /-?(?:0(?![0-9oXx])|[1-9][0-9]*)(?![0-9eE])/y },
  { name: 'integer_with_exponent', re: /-?(?:0(?![0-9oXx])|[1-9][0-9]*)[Ee][+-]?[0-9]+/y },
  { name: 'octal', re: /0o[0-9]+/y },
  { name: 'pound_comment', re: /#[^\n]*?\n/y },
  { name: 'single_quote_string', re: /'(?:[^'\\]|\\[^\n])*'/y },
  { name: 'string', re: /"(?:[^"\\]|\\[^\n])*"/y },
  { name: 'symbol', re: /[A-Za-z_][A-Za-z0-9_\-.]*/y },
  // MOM's operators, longest first; the word operators can never match here (symbol comes first).
  { name: 'user_op', re: /valid|null|and|not|min|max|<=|>=|<<|>>|==|!=|or|\+|-|\*|\/|<|>/y },
  { name: 'whitespace', re: new RegExp(`[${WS}]+`, 'y') },
];

export function scan(text: string): ScanResult {
  const tokens: Token[] = [];
  let pos = 0;
  let line = 1;
  const n = text.length;
  outer: while (pos < n) {
    for (const rule of RULES) {
      rule.re.lastIndex = pos;
      const m = rule.re.exec(text);
      if (m === null) continue;
      const s = m[0];
      switch (rule.name) {
        case 'builtin_op':
          tokens.push({ kind: s as Token['kind'], value: s, line, offset: pos });
          break;
        case 'float':
        case 'integer_with_exponent':
          tokens.push({ kind: 'number', value: s, numberKind: 'float', number: Number(s), line, offset: pos });
          break;
        case 'integer':
        case 'hex':
        case 'octal':
          tokens.push({ kind: 'number', value: s, numberKind: rule.name, number: parseInt0(s), line, offset: pos });
          break;
        case 'single_quote_string':
        case 'string':
          tokens.push({ kind: 'string', value: s, line, offset: pos });
          break;
        case 'symbol':
          tokens.push(symbolToken(s, line, pos));
          break;
        case 'user_op':
          tokens.push({ kind: 'operator', value: s, line, offset: pos });
          break;
        default:
          break; // comments and whitespace
      }
      line += countNewlines(s);
      pos += s.length;
      continue outer;
    }
    // t_default: `( . | \n )+` matches everything that is left.
    return { tokens, swallowedAt: { offset: pos, line } };
  }
  return { tokens };
}

function countNewlines(s: string): number {
  let c = 0;
  for (let i = s.indexOf('\n'); i !== -1; i = s.indexOf('\n', i + 1)) c++;
  return c;
}

/** Python's int(s, 0) for the strings the integer, hex and octal rules accept. */
function parseInt0(s: string): bigint | undefined {
  try {
    return BigInt(s);
  } catch {
    return undefined;
  }
}

export function symbolToken(value: string, line: number, offset: number): Token {
  const parts = value.split('.');
  return parts.length > 1
    ? { kind: 'symbol', value, head: parts[0]!, attr: parts[1]!, line, offset }
    : { kind: 'symbol', value, head: value, line, offset };
}
