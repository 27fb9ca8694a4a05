import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { evaluateInterval, type EvalInput } from './interval.ts';
import { toJson } from './output.ts';
import { loadPolicySet, PolicyError, type PolicySet } from './policy-set.ts';
import { guestCpu, hostSample } from './testing/policy-run.ts';

// Whatever the policy and the samples, an interval ends in an answer (ok true, false or null),
// never in an exception, and the same interval evaluated twice answers the same (replay).
const symbols = [
  'x',
  'y',
  'f',
  'g',
  'guest',
  'Host.mem_free',
  'Host.cpu_count',
  'guest.balloon_cur',
  'guest.mem_unused',
  'nil',
  'Guests',
  'max',
  'abs',
];
const ops = [
  '+',
  '-',
  '*',
  '/',
  '<',
  '>',
  '<=',
  '>=',
  '==',
  '!=',
  '<<',
  '>>',
  'and',
  'or',
  'min',
  'max',
  'not',
  'null',
  'valid',
  'abs',
  'debug',
];

const { expr } = fc.letrec<{ expr: string }>((tie) => ({
  expr: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.integer({ min: -1000, max: 1000 }).map(String),
    fc.double({ min: -1e6, max: 1e6, noNaN: true }).map((d) => (Number.isInteger(d) ? `${d}.0` : String(d))),
    fc.constantFrom(...symbols),
    fc.constantFrom('"s"', "'t'", '0x10', '0o7', '1e3', '.5'),
    fc.tuple(fc.constantFrom(...ops), fc.array(tie('expr'), { maxLength: 3 })).map(([op, args]) => `(${op} ${args.join(' ')})`),
    fc.tuple(tie('expr'), tie('expr'), tie('expr')).map(([c, a, b]) => `(if ${c} ${a} ${b})`),
    fc.tuple(fc.constantFrom('defvar', 'set', 'setq'), fc.constantFrom('x', 'y'), tie('expr')).map(([f, s, e]) => `(${f} ${s} ${e})`),
    fc.tuple(tie('expr'), tie('expr')).map(([a, b]) => `(let ((x ${a}) (y x)) ${b})`),
    tie('expr').map((e) => `(def f (x) ${e})`),
    fc.array(tie('expr'), { maxLength: 2 }).map((args) => `(f ${args.join(' ')})`),
    tie('expr').map((e) => `(with Guests guest ${e})`),
    fc.array(tie('expr'), { maxLength: 3 }).map((es) => `{${es.join(' ')}}`),
    tie('expr').map((e) => `(guest.Control "balloon_target" ${e})`),
    tie('expr').map((e) => `(Host.Control "ksm_run" ${e})`),
  ),
}));

const sample = fc.dictionary(
  fc.constantFrom('mem_free', 'mem_unused', 'balloon_cur', 'balloon_min', 'vcpu_count', 'io_tune', 'cpu_count', 'junk'),
  fc.oneof(fc.integer(), fc.double(), fc.constant(null), fc.string(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 })),
);

const input = fc.record({
  hostOver: sample,
  guests: fc.array(fc.tuple(fc.boolean(), sample), { maxLength: 3 }),
  historyLength: fc.integer({ min: 1, max: 3 }),
});

function build(i: { hostOver: Record<string, unknown>; guests: [boolean, Record<string, unknown>][]; historyLength: number }): EvalInput {
  return {
    host: [hostSample(), hostSample(i.hostOver)],
    guests: i.guests.map(([complete, s], n) => ({ name: `g${n}`, ...(complete ? guestCpu() : {}), ...s })),
    config: { history_length: i.historyLength },
  };
}

function check(set: PolicySet, inp: EvalInput): void {
  const a = evaluateInterval(set, inp);
  expect([true, false, null]).toContain(a.ok);
  if (a.ok !== true) {
    expect(a.host).toEqual({});
    expect(a.guests).toEqual({});
  }
  const json = toJson(a);
  expect(() => JSON.parse(json) as unknown).not.toThrow();
  expect(toJson(evaluateInterval(set, inp))).toBe(json);
}

describe('evaluateInterval, for any policy and input', () => {
  it('well-formed policies: never throws, fails without controls, answers the same twice', () => {
    fc.assert(
      fc.property(fc.array(expr, { minLength: 1, maxLength: 6 }), input, (exprs, i) => {
        check(loadPolicySet([{ name: 'p.policy', text: exprs.join('\n') }]), build(i));
      }),
      { numRuns: 300 },
    );
  });

  it('any text: loading throws only PolicyError, and what loads evaluates without throwing', () => {
    const piece = fc.oneof(
      fc.constantFrom(
        '(',
        ')',
        '{',
        '}',
        '[',
        ']',
        ' ',
        '\n',
        '#',
        '"',
        "'",
        ';',
        '-',
        '.',
        '0x',
        '0o9',
        '1e',
        'defvar',
        'def',
        'if',
        'with',
        'Guests',
        'x',
        '+',
        'nil',
      ),
      fc.string({ maxLength: 3 }),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 40 }), input, (pieces, i) => {
        let set: PolicySet;
        try {
          set = loadPolicySet([{ name: 'p.policy', text: pieces.join('') }]);
        } catch (e) {
          expect(e).toBeInstanceOf(PolicyError);
          return;
        }
        check(set, build(i));
      }),
      { numRuns: 300 },
    );
  });

  it('deep recursion and runaway work end the interval instead of the process', () => {
    const deep = loadPolicySet([{ name: 'p.policy', text: '(def f (n) (if (== n 0) 0 (+ 1 (f (- n 1))))) (defvar x (f 100000))' }]);
    const out = evaluateInterval(deep, { host: hostSample(), guests: [] });
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/RecursionError/);
    const nested = loadPolicySet([{ name: 'p.policy', text: `${'('.repeat(20000)}+${')'.repeat(20000)}` }]);
    expect(evaluateInterval(nested, { host: hostSample(), guests: [] }).ok).toBe(false);
    const exponential = loadPolicySet([
      { name: 'p.policy', text: '(def f (n) (if (< n 1) 1 (+ (f (- n 1)) (f (- n 1))))) (defvar x (f 40))' },
    ]);
    expect(evaluateInterval(exponential, { host: hostSample(), guests: [] }).error).toMatch(/steps/);
  });
});
