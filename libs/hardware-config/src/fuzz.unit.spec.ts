import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigFileError } from './errors.ts';
import { readIncludeFromMap } from './load.ts';
import { parseHardwareConfig, parseRealmSettings } from './parse.ts';

/**
 * Fuzzed hardware configs and realm files (seed 003's examples, damaged): parsing either gives a
 * configuration or a ConfigFileError naming the file, a line of it and the reason (`file:line:
 * key: reason`, the key when the problem is at one); never another exception. Parsing is pure, so
 * a refused file changes nothing; what a service does with a refused text (ApplyHardwareConfig
 * appends nothing) is checked by test/fuzz-grpc.e2e.spec.ts. CONFIG_FUZZ_RUNS for longer runs.
 */
const RUNS = Number(process.env['CONFIG_FUZZ_RUNS'] ?? 150);
const dir = fileURLToPath(new URL('../fixtures/', import.meta.url));
const examples = readdirSync(dir)
  .filter((f) => f.endsWith('.conf') || f.endsWith('.json') || f.endsWith('.yaml'))
  .map((f) => ({ file: f, text: readFileSync(`${dir}${f}`, 'utf8') }));

const TOKENS = [
  '{',
  '}',
  '[',
  ']',
  '"',
  ':',
  '=',
  ',',
  '\n',
  '${x}',
  'include "missing.conf"',
  '1e999',
  '-1',
  '0x10',
  '"\\u0000"',
  'null',
  '16 GiB',
  '1.5.3',
  '//',
  '#',
  '\t',
  '\u00a0',
  '💥',
  '  ',
  '"""',
  '+=',
  'true',
  '.',
  '..',
];

/** A damaged copy of `text`: characters deleted, tokens inserted, lines swapped, duplicated or cut. */
function mutated(text: string): fc.Arbitrary<string> {
  const at = fc.integer({ min: 0, max: text.length });
  const lines = text.split('\n');
  const line = fc.integer({ min: 0, max: Math.max(0, lines.length - 1) });
  return fc.oneof(
    fc.tuple(at, fc.integer({ min: 1, max: 20 })).map(([i, n]) => text.slice(0, i) + text.slice(i + n)),
    fc.tuple(at, fc.constantFrom(...TOKENS)).map(([i, t]) => text.slice(0, i) + t + text.slice(i)),
    fc.tuple(at, fc.string({ maxLength: 8 })).map(([i, t]) => text.slice(0, i) + t + text.slice(i)),
    at.map((i) => text.slice(0, i)),
    fc.tuple(line, line).map(([a, b]) => {
      const l = [...lines];
      [l[a], l[b]] = [l[b]!, l[a]!];
      return l.join('\n');
    }),
    fc.tuple(line, line).map(([a, b]) => [...lines.slice(0, b), lines[a]!, ...lines.slice(b)].join('\n')),
    line.map((a) => lines.filter((_, i) => i !== a).join('\n')),
  );
}

/** Parses and checks the outcome; returns what happened, for the counts. */
function judge(parse: () => unknown, file: string, text: string): 'parsed' | 'refused' {
  try {
    parse();
    return 'parsed';
  } catch (e) {
    if (!(e instanceof ConfigFileError)) throw new Error(`not a ConfigFileError for ${JSON.stringify(text)}: ${String(e)}`, { cause: e });
    expect(e.file).toBe(file);
    expect(e.line).toBeGreaterThanOrEqual(1);
    expect(e.line).toBeLessThanOrEqual(text.split('\n').length + 1);
    expect(e.reason.length).toBeGreaterThan(0);
    expect(e.message).toBe(e.key === '' ? `${file}:${e.line}: ${e.reason}` : `${file}:${e.line}: ${e.key}: ${e.reason}`);
    return 'refused';
  }
}

describe('fuzzed configuration files', () => {
  it.each(examples.map((x) => [x.file, x] as const))(
    'hardware config %s: a configuration or file:line: key: reason, never another error',
    (_name, x) => {
      const seen = { parsed: 0, refused: 0 };
      fc.assert(
        fc.property(mutated(x.text), (text) => {
          seen[judge(() => parseHardwareConfig(text, { file: x.file, readInclude: readIncludeFromMap({}) }), x.file, text)] += 1;
        }),
        // YAML parses ~100 ms per file here (the json/hocon ones ~1 ms): fewer runs, same checks.
        { numRuns: x.file.endsWith('.yaml') ? Math.ceil(RUNS / 6) : RUNS },
      );
      expect(seen.refused).toBeGreaterThan(0);
    },
    60_000,
  );

  it('realm files: settings or file:line: key: reason, never another error', () => {
    const realm = examples.find((x) => x.file === 'realm.conf')!;
    fc.assert(
      fc.property(mutated(realm.text), (text) => {
        judge(() => parseRealmSettings(text, { file: 'realm.conf' }), 'realm.conf', text);
      }),
      { numRuns: RUNS * 2 },
    );
  });

  it('random text: never another error', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'grapheme-ascii' }), (text) => {
        judge(() => parseHardwareConfig(text, { file: 'x.conf' }), 'x.conf', text);
        judge(() => parseRealmSettings(text, { file: 'r.conf' }), 'r.conf', text);
      }),
      { numRuns: RUNS * 2 },
    );
  });
});
