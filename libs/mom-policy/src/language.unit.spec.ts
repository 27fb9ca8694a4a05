import { describe, expect, it } from 'vitest';
import { run, valueOf } from './testing/policy-run.ts';

// One spec per construct and quirk of MOM's language (mom/Policy/Parser.py).
describe('lexer', () => {
  it('reads 1e3 as a float and 12 as an int', () => {
    expect(valueOf('(defvar x 1e3)')).toBe('1000.0');
    expect(valueOf('(defvar x 12)')).toBe('12');
    expect(valueOf('(defvar x 1.5E-2)')).toBe('0.015');
  });
  it('reads .5 and -.5 as floats, -5 as one int token', () => {
    expect(valueOf('(defvar x .5)')).toBe('0.5');
    expect(valueOf('(defvar x -.5)')).toBe('-0.5');
    expect(valueOf('(defvar x (- 0 -5))')).toBe('5');
  });
  it('reads 0x and 0o integers', () => {
    expect(valueOf('(defvar x 0x1F)')).toBe('31');
    expect(valueOf('(defvar x 0o17)')).toBe('15');
  });
  it('lexes 0o19 but fails when it is evaluated', () => {
    expect(run('(defvar y 1) (if 0 0o19 2)').ok).toBe(true);
    const out = run('(defvar x 0o19)');
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/ValueError/);
  });
  it('keeps strings without escape processing, in both quotes', () => {
    expect(valueOf('(defvar x "a\\nb")')).toBe(JSON.stringify('a\\nb'));
    expect(valueOf("(defvar x 'it')")).toBe('"it"');
  });
  it('skips # comments to the end of the line', () => {
    expect(valueOf('# (defvar x 1)\n(defvar x 2) # (set x 3)\n')).toBe('2');
  });
  it('reads symbols with - and . as one symbol', () => {
    expect(valueOf('(defvar x-1 4) (defvar x x-1)')).toBe('4');
  });
  it('ends the text silently at a character no rule knows', () => {
    expect(valueOf('(defvar x 1) ; (set x 2)')).toBe('1');
  });
});

describe('forms', () => {
  it('def and defun define a function of one body; def returns the name', () => {
    expect(valueOf('(def f (a b) (+ a b)) (defvar x (f 1 2))')).toBe('3');
    expect(valueOf('(defun g (a) (* a 2)) (defvar x (g 4))')).toBe('8');
    expect(valueOf('(defvar x (def h () 1))')).toBe('"h"');
    expect(run('(def f (a) 1 2)').ok).toBe(false);
  });
  it('defvar never rebinds and returns what the name holds', () => {
    expect(valueOf('(defvar x 1) (defvar x 2)')).toBe('1');
    expect(valueOf('(defvar a 1) (defvar x (defvar a 5))')).toBe('1');
  });
  it('set and setq rebind the innermost scope that has the name; undefined is an error', () => {
    expect(valueOf('(defvar x 1) (set x 2)')).toBe('2');
    expect(valueOf('(defvar x 1) (setq x 3)')).toBe('3');
    expect(run('(set nothing 1)').ok).toBe(false);
  });
  it('let binds in order, inside the new scope, first binding of a name wins', () => {
    expect(valueOf('(defvar x (let ((a 2) (b (* a 3))) b))')).toBe('6');
    expect(valueOf('(defvar x (let ((a 1) (a 2)) a))')).toBe('1');
    expect(run('(let ((a 1))) ').ok).toBe(false);
  });
  it('if takes exactly two branches', () => {
    expect(valueOf('(defvar x (if 0 1 2))')).toBe('2');
    expect(run('(if 1 2)').ok).toBe(false);
    expect(run('(if 1 2 3 4)').ok).toBe(false);
  });
  it('with LIST item body returns the list of results', () => {
    expect(valueOf('(defvar l (if 1 (with Guests g 1) 0)) (defvar x l)')).toBe('[]');
  });
  it('{...} evaluates a sequence and returns the last value', () => {
    expect(valueOf('(defvar x { 1 2 3 })')).toBe('3');
    expect(run('{}').ok).toBe(false);
  });
  it('[...] is an ordinary list form', () => {
    expect(valueOf('(defvar x [+ 1 2])')).toBe('3');
  });
});

describe('scoping and calls', () => {
  it("a function sees its caller's variables (dynamic scoping)", () => {
    expect(valueOf('(def f () y) (def g (y) (f)) (defvar x (g 7))')).toBe('7');
  });
  it('a later argument is evaluated where earlier parameters are already bound', () => {
    expect(valueOf('(defvar a 100) (def f (a b) b) (defvar x (f 1 a))')).toBe('1');
  });
  it('defvar inside a function is local to the call', () => {
    expect(valueOf('(def f () (defvar local 5)) (f) (defvar x (valid 1))')).toBe('true');
    expect(run('(def f () (defvar local 5)) (f) (defvar x local)').ok).toBe(false);
  });
  it('a variable bound to a non-None value shadows a form of the same name', () => {
    expect(run('(defvar max 1) (defvar x (max 1 2))').ok).toBe(false);
  });
  it('a wrong number of arguments is an error', () => {
    expect(run('(def f (a) a) (f 1 2)').ok).toBe(false);
    expect(run('(+ 1 2 3)').ok).toBe(false);
  });
});

describe('operators and functions', () => {
  it('/ is true division', () => {
    expect(valueOf('(defvar x (/ 10 2))')).toBe('5.0');
    expect(valueOf('(defvar x (/ 1 3))')).toBe('0.3333333333333333');
  });
  it('int arithmetic stays int, mixed becomes float', () => {
    expect(valueOf('(defvar x (* 3 4))')).toBe('12');
    expect(valueOf('(defvar x (+ 1 1.0))')).toBe('2.0');
    expect(valueOf('(defvar x (<< 1 70))')).toBe('1180591620717411303424');
  });
  it('and/or evaluate every argument and return one of them', () => {
    expect(valueOf('(defvar n 0) (def bump () (set n (+ n 1))) (and 0 (bump)) (or 1 (bump)) (defvar x n)')).toBe('2');
    expect(valueOf('(defvar x (and 1 nil 2))')).toBe('null');
    expect(valueOf('(defvar x (or 0 "" 3))')).toBe('3');
  });
  it('min and max keep the first of equal values', () => {
    expect(valueOf('(defvar x (max 1 1.0))')).toBe('1');
    expect(valueOf('(defvar x (min 2.0 2))')).toBe('2.0');
  });
  it('null, valid, not, abs', () => {
    expect(valueOf('(defvar x (null nil ""))')).toBe('true');
    expect(valueOf('(defvar x (null 0))')).toBe('false');
    expect(valueOf('(defvar x (valid 1 nil))')).toBe('false');
    expect(valueOf('(defvar x (not 0))')).toBe('true');
    expect(valueOf('(defvar x (abs -3))')).toBe('3');
  });
  it('an error anywhere fails the interval and no control is kept', () => {
    const out = run('(Host.Control "ksm_run" 1) (+ 1 nil)');
    expect(out.ok).toBe(false);
    expect(out.host).toEqual({});
    expect(out.error).toMatch(/TypeError/);
  });
});
