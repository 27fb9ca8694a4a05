import { describe, expect, it } from 'vitest';
import { run, valueOf } from './testing/policy-run.ts';

// More of MOM's behaviour that a policy can run into; each is what Python does in Parser.py.
describe('quirks', () => {
  it('word operators are symbols: a variable named like a form shadows it, + maps to the name add', () => {
    expect(valueOf('(defvar x (add 1 2))')).toBe('3');
    expect(run('(defvar add 5) (+ 1 2)').ok).toBe(false);
    expect(valueOf('(defvar if nil) (defvar x (if 1 2 3))')).toBe('2'); // bound to None: not called
  });
  it('an operator, number or list at the head of a form, or an empty form, is an error', () => {
    for (const text of ['(1 2)', '("f" 1)', '((f) 1)', '()', '(defvar x +)']) expect(run(text).ok, text).toBe(false);
  });
  it('nil reads as None even when defined; calling nil is an unknown function', () => {
    expect(valueOf('(defvar nil 5) (defvar x nil)')).toBe('null');
    expect(run('(nil)').ok).toBe(false);
  });
  it('a function defined later is unknown before its def runs; a redefinition replaces it', () => {
    expect(run('(f) (def f () 1)').ok).toBe(false);
    expect(valueOf('(def f () 1) (def f () 2) (defvar x (f))')).toBe('2');
  });
  it('set and defvar want a symbol; a function call result is a malformed expression', () => {
    expect(run('(set (f) 1)').error).toMatch(/malformed expression/);
    expect(run('(defvar "x" 1)').error).toMatch(/malformed expression/);
  });
  it('strings and lists follow Python: + concatenates, * repeats, < compares', () => {
    expect(valueOf('(defvar x (+ "ab" "cd"))')).toBe('"abcd"');
    expect(valueOf('(defvar x (* "ab" 3))')).toBe('"ababab"');
    expect(valueOf('(defvar x (< "abc" "abd"))')).toBe('true');
    expect(valueOf('(defvar x (+ (with Guests g 1) (with Guests g 2)))')).toBe('[]');
    expect(run('(< "a" 1)').error).toMatch(/TypeError: '<' not supported between instances of 'str' and 'int'/);
  });
  it('comparisons between int and float are exact; == across types is false, not an error', () => {
    expect(valueOf('(defvar x (== 1 1.0))')).toBe('true');
    expect(valueOf('(defvar x (== 9007199254740993 9007199254740992.0))')).toBe('false');
    expect(valueOf('(defvar x (== "1" 1))')).toBe('false');
    expect(valueOf('(defvar x (!= nil 0))')).toBe('true');
  });
  it('bools are ints in arithmetic; comparisons give bools', () => {
    expect(valueOf('(defvar x (+ (< 1 2) 1))')).toBe('2');
    expect(valueOf('(defvar x (* (> 1 2) 1.5))')).toBe('0.0');
  });
  it('shifts need ints: a float or a negative count is an error', () => {
    expect(valueOf('(defvar x (>> -9 1))')).toBe('-5');
    expect(run('(<< 1.0 2)').ok).toBe(false);
    expect(run('(<< 1 -1)').error).toMatch(/ValueError: negative shift count/);
  });
  it('division by zero fails the interval, float or int', () => {
    expect(run('(/ 1 0)').ok).toBe(false);
    expect(run('(/ 1.0 0.0)').ok).toBe(false);
  });
  it('debug returns its last argument; without any it fails', () => {
    expect(valueOf('(defvar x (debug "a" 2 3))')).toBe('3');
    expect(run('(debug)').ok).toBe(false);
  });
  it('null/valid take any number of arguments, none included', () => {
    expect(valueOf('(defvar x (null))')).toBe('true');
    expect(valueOf('(defvar x (valid))')).toBe('true');
    expect(valueOf('(defvar x (null Host))')).toBe('false');
    expect(run('(min)').ok).toBe(false);
  });
  it('let needs a list of (symbol value) pairs and at least one body expression', () => {
    expect(run('(let x 1)').ok).toBe(false);
    expect(run('(let ((x)) 1)').ok).toBe(false);
    expect(run('(let ((1 2)) 1)').ok).toBe(false);
    expect(valueOf('(defvar x (let () 1 2))')).toBe('2');
  });
  it('with over something that is not iterable, or undefined, fails; over a string it iterates characters', () => {
    expect(run('(defvar n 5) (with n i i)').ok).toBe(false);
    expect(run('(with nothing i i)').ok).toBe(false);
    expect(valueOf('(defvar s "ab") (defvar x (with s c (+ c "!")))')).toBe('["a!", "b!"]');
  });
  it('a call is a let: a variable named let (not None) breaks every call, as in MOM', () => {
    expect(valueOf('(def f (a b) (+ a b)) (defvar let nil) (defvar x (f 1 2))')).toBe('3');
    expect(run('(def f () 1) (defvar let 1) (f)').ok).toBe(false);
    expect(run('(def f (1) 1) (f 2)').ok).toBe(false);
  });
  it('the with item is local to each iteration and shadows an outer name', () => {
    expect(valueOf('(defvar guest 7) (with Guests guest 0) (defvar x guest)')).toBe('7');
  });
});
