import { BUILTIN_MAP, isToken, OPERATORS, type Arg, type ArgType, type Builtin } from './builtins.ts';
import type { Token } from './lexer.ts';
import type { Code } from './parser.ts';
import { PyCallable, PyException, PyObject, typeError, typeName, type Value } from './values.ts';

/**
 * MOM's Evaluator (mom/Policy/Parser.py), form for form. Dynamic scoping: one stack of scopes, the
 * innermost searched first, so a function sees its caller's variables. A call `(name args...)`
 * resolves, in this order: a variable `name` that is not None (called, so `(defvar max 1)` breaks
 * `(max ...)`), a built-in form (builtins.ts), `eval` (what `{...}` becomes), a function from `def`/`defun`.
 */

/** An error that ends the interval; `line` is the line of the form being evaluated, if known. */
export class EvalError extends Error {
  constructor(
    message: string,
    readonly line?: number,
  ) {
    super(message);
  }
}

/** Python's recursion limit stops runaway recursion in MOM; this is ours (see README). */
const MAX_DEPTH = 1000;
/** There are no loops, but recursion can be exponential; an interval that runs this long fails. */
const MAX_STEPS = 1_000_000;

export interface UserFunction {
  readonly params: Code;
  readonly body: Code;
  /** The `let` its calls expand to (MOM builds `(let ((p a) ...) body)`). */
  readonly let: Token;
}

export class Evaluator {
  /** Innermost scope last. */
  readonly scopes: Map<string, Value>[] = [new Map<string, Value>()];
  readonly funcs = new Map<string, UserFunction>();
  /** Every name ever bound in any scope: a call head never bound cannot be a variable, so the
   *  scope walk that MOM does first (a variable shadows a form) can be skipped for it. */
  readonly bound = new Set<string>();
  private depth = 0;
  private steps = 0;

  constructor(externs: ReadonlyMap<string, Value>) {
    for (const [k, val] of externs) this.defvar(k, val);
  }

  get globals(): ReadonlyMap<string, Value> {
    return this.scopes[0]!;
  }

  /** VariableStack.get: `a.b` is attribute b of the innermost `a` that has it; `a.b.c` ignores c. */
  get(name: string, allowUndefined: boolean, line: number | undefined): Value {
    const parts = name.split('.');
    return this.lookup(name, parts[0]!, parts[1], allowUndefined, line);
  }

  lookup(name: string, obj: string, attr: string | undefined, allowUndefined: boolean, line: number | undefined): Value {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const scope = this.scopes[i]!;
      if (!scope.has(obj)) continue;
      const val = scope.get(obj)!;
      if (attr === undefined) return val;
      if (val instanceof PyObject) {
        const a = val.getAttr(attr);
        if (a !== undefined) return a;
      }
    }
    if (allowUndefined) return null;
    throw new EvalError(`undefined symbol ${name}`, line);
  }

  set(name: string, val: Value, line: number | undefined): Value {
    for (let i = this.scopes.length - 1; i >= 0; i--) {
      const scope = this.scopes[i]!;
      if (scope.has(name)) {
        scope.set(name, val);
        return val;
      }
    }
    throw new EvalError(`undefined symbol ${name}`, line);
  }

  /** `setdefault` in the innermost scope: never rebinds, returns what the name holds. */
  defvar(name: string, val: Value): Value {
    const scope = this.scopes[this.scopes.length - 1]!;
    if (scope.has(name)) return scope.get(name)!;
    scope.set(name, val);
    this.bound.add(name);
    return val;
  }

  let(syms: Code, body: readonly Code[]): Value {
    if (!Array.isArray(syms)) throw new EvalError('Expecting list as arg 1 in let');
    this.scopes.push(new Map<string, Value>());
    for (const sym of syms as readonly Code[]) {
      if (!Array.isArray(sym) || sym.length !== 2) throw new EvalError('Expecting list of tuples in arg1 of let');
      const pair = sym as readonly Code[];
      const name = pair[0]!;
      const valueCode = pair[1]!;
      if (Array.isArray(name)) throw new PyException('AttributeError', "'list' object has no attribute 'kind'");
      if ((name as Token).kind !== 'symbol') throw new EvalError('Expecting list of (symbol value) in let');
      // Evaluated inside the new scope: a later binding (or argument) sees the earlier ones.
      this.defvar((name as Token).value, this.eval(valueCode));
    }
    let result: Value = null;
    for (const expr of body) result = this.eval(expr);
    this.scopes.pop();
    return result;
  }

  eval(code: Code): Value {
    if (++this.steps > MAX_STEPS) throw new EvalError(`evaluation exceeded ${MAX_STEPS} steps`);
    if (!Array.isArray(code)) return this.evalToken(code as Token);
    if (++this.depth > MAX_DEPTH) throw new PyException('RecursionError', 'maximum recursion depth exceeded');
    // No finally: an exception ends the interval and this evaluator with it.
    const v = this.evalList(code as readonly Code[]);
    this.depth--;
    return v;
  }

  private evalToken(tok: Token): Value {
    if (tok.kind === 'number') {
      if (tok.number === undefined) throw new PyException('ValueError', `invalid literal for int() with base 0: '${tok.value}'`);
      return tok.number;
    }
    if (tok.kind === 'string') return tok.value.slice(1, -1); // no escape processing
    if (tok.kind === 'symbol') return tok.value === 'nil' ? null : this.lookup(tok.value, tok.head!, tok.attr, false, tok.line);
    throw new EvalError(`Unexpected token type "${tok.kind}"`, tok.line);
  }

  private evalList(code: readonly Code[]): Value {
    const head = code[0];
    if (head === undefined) throw new PyException('IndexError', 'list index out of range (empty form)');
    if (Array.isArray(head)) throw new EvalError('Expected simple token as arg 1');
    const tok = head as Token;
    let name: string;
    let fn: Value;
    const line = tok.line;
    if (tok.kind === 'symbol') {
      name = tok.value;
      fn = this.bound.has(tok.head!) ? this.lookup(name, tok.head!, tok.attr, true, line) : null;
    } else if (tok.kind === 'operator') {
      name = OPERATORS[tok.value]!;
      fn = this.bound.has(name) ? this.lookup(name, name, undefined, true, line) : null;
    } else {
      throw new EvalError(`Unexpected token type in arg 1 "${tok.kind}"`, tok.line);
    }

    if (fn !== null) {
      if (!(fn instanceof PyCallable)) throw typeError(`'${typeName(fn)}' object is not callable`);
      const args: Value[] = [];
      for (let i = 1; i < code.length; i++) args.push(this.eval(code[i]!));
      return fn.fn(args);
    }
    const builtin = BUILTIN_MAP.get(name);
    if (builtin !== undefined) return this.dispatch(name, builtin, code, line);
    if (name === 'eval') {
      let last: Value | undefined;
      for (let i = 1; i < code.length; i++) last = this.eval(code[i]!);
      if (last === undefined) throw new PyException('IndexError', 'list index out of range (empty {} or eval)');
      return last;
    }
    return this.callUser(name, code.slice(1), line);
  }

  /** GenericEvaluator._dispatch: arity from the form's doc string, then evaluate per argument type. */
  private dispatch(name: string, b: Builtin, code: readonly Code[], line: number): Value {
    const args: Arg[] = new Array<Arg>(code.length - 1);
    for (let i = 1; i < code.length; i++) args[i - 1] = code[i]!;
    const types = b.types;
    const variadic = types[types.length - 1] === '...';
    if (types.length !== args.length && !variadic) throw new EvalError(`arity mismatch in doc parsing of 'c_${name}'`, line);
    if (variadic && types.length > args.length + 1) throw new EvalError(`not enough arguments for 'c_${name}'`, line);
    let ti = 0;
    let type: ArgType = types[0]!;
    for (let i = 0; i < args.length; i++) {
      if (types[ti] !== '...') type = types[ti++]!;
      else if (i === 0) type = '...';
      if (type === 'code') continue;
      const a = args[i]!;
      if (type === 'symbol') {
        if (!isToken(a) || a.kind !== 'symbol') throw new EvalError('malformed expression', line);
        args[i] = a.value;
      } else {
        args[i] = this.eval(a as Code);
      }
    }
    return b.fn(this, args, line);
  }

  /** Evaluator.default: a def'd function runs as `(let ((p1 a1) (p2 a2) ...) body)`. */
  private callUser(name: string, args: readonly Code[], line: number): Value {
    const f = this.funcs.get(name);
    if (f === undefined) throw new PyException('KeyError', `'${name}' (unknown function on line ${line})`);
    if (!Array.isArray(f.params)) throw typeError(`object of type 'Token' has no len() (parameters of '${name}')`);
    const params = f.params as readonly Code[];
    if (params.length !== args.length) throw new EvalError(`Function "${name}" invoked with incorrect arity`, line);
    if (this.bound.has('let')) {
      // A variable named `let` would be called instead of the form: take MOM's exact path.
      const bindings: Code[] = params.map((p, i) => [p, args[i]!]);
      return this.eval([f.let, bindings, f.body]);
    }
    // The same as evaluating `(let ((p1 a1) ...) body)`, without building it.
    if (++this.steps > MAX_STEPS) throw new EvalError(`evaluation exceeded ${MAX_STEPS} steps`);
    if (++this.depth > MAX_DEPTH) throw new PyException('RecursionError', 'maximum recursion depth exceeded');
    this.scopes.push(new Map<string, Value>());
    for (let i = 0; i < params.length; i++) {
      const p = params[i]!;
      if (Array.isArray(p)) throw new PyException('AttributeError', "'list' object has no attribute 'kind'");
      if ((p as Token).kind !== 'symbol') throw new EvalError('Expecting list of (symbol value) in let');
      this.defvar((p as Token).value, this.eval(args[i]!));
    }
    const result = this.eval(f.body);
    this.scopes.pop();
    this.depth--;
    return result;
  }
}
