import { describe, expect, it } from 'vitest';
import { parseJson } from './json.ts';
import { Float, floatRepr } from './output.ts';
import { run, valueOf } from './testing/policy-run.ts';
import { toJson } from './output.ts';

describe('floats as Python prints them', () => {
  it.each([
    [5, '5.0'],
    [0.1, '0.1'],
    [-0, '-0.0'],
    [1e16, '1e+16'],
    [1e15, '1000000000000000.0'],
    [1.5e-5, '1.5e-05'],
    [0.0001, '0.0001'],
    [123456.789, '123456.789'],
    [Infinity, 'null'],
    [NaN, 'null'],
  ])('%d -> %s', (x, text) => {
    expect(floatRepr(x)).toBe(text);
  });
  it('toJson keeps int and float apart, and exact big ints', () => {
    const out = run('(defvar a (/ 10 2)) (defvar b 5) (defvar c (<< 1 64)) (defvar d "s") (defvar e nil) (defvar f (< 1 2))');
    expect(toJson(out)).toBe(
      '{"ok": true, "host": {}, "guests": {}, "excluded_guests": [], "variables": {"a": 5.0, "b": 5, "c": 18446744073709551616, "d": "s", "e": null, "f": true}}',
    );
  });
  it('a failed interval prints ok:false with the error and nothing else', () => {
    expect(JSON.parse(toJson(run('(/ 1 0)')))).toEqual({
      ok: false,
      error: 'ZeroDivisionError: division by zero',
      host: {},
      guests: {},
      excluded_guests: [],
      variables: {},
    });
  });
});

describe('parseJson', () => {
  it('reads 5.0 as a float and 5 as an exact int', () => {
    const v = parseJson('{"a": 5.0, "b": 5, "c": [1e2, -0.5], "d": 123456789012345678901234567890, "e": "x\\n", "f": null}') as Record<
      string,
      unknown
    >;
    expect(v.a).toEqual(new Float(5));
    expect(v.b).toBe(5n);
    expect(v.c).toEqual([new Float(100), new Float(-0.5)]);
    expect(v.d).toBe(123456789012345678901234567890n);
    expect(v.e).toBe('x\n');
    expect(v.f).toBeNull();
  });
  it('rejects what JSON rejects', () => {
    expect(() => parseJson('{"a": 01}')).toThrow(SyntaxError);
    expect(() => parseJson('[1,]')).toThrow(SyntaxError);
    expect(() => parseJson('{"a": 1} x')).toThrow(/trailing/);
  });
  it('a float statistic stays a float in the policy', () => {
    const host = parseJson(
      '{"mem_available": 16000000, "mem_unused": 1, "mem_free": 8000000.0, "swap_in": 0, "swap_out": 0, "anon_pages": 0, "swap_total": 0, "swap_usage": 0, "ksm_full_scans": 0, "ksm_pages_sharing": 0, "ksm_pages_unshared": 0, "ksm_run": 0, "ksm_pages_shared": 0, "ksm_pages_to_scan": 0, "ksm_pages_volatile": 0, "ksm_sleep_millisecs": 0, "ksm_merge_across_nodes": 0, "ksm_shareable": 0, "ksmd_cpu_usage": 0, "cpu_count": 1}',
    ) as Record<string, unknown>;
    expect(toJson(run('(defvar x Host.mem_free)', { host }))).toContain('"x": 8000000.0');
    expect(valueOf('(defvar x Host.mem_free)')).toBe('8000000');
  });
});
