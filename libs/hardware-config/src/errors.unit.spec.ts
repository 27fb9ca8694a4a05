import { describe, expect, it } from 'vitest';
import { ValidationError } from '@berth/errors';
import { ConfigFileError } from './errors.ts';
import { readIncludeFromMap } from './load.ts';
import { parseHardwareConfig, type ParseOptions } from './parse.ts';

const profile = (body: string) => `ticrypt.vm.cost-functions.simple { vms: { curve: constant, value: 1 } }
ticrypt.vm.hardware-profiles {
  node {
    cores: 8
    memory: 32 GiB
${body}
  }
}
`;

function errorOf(text: string, options: Partial<ParseOptions> = {}): ConfigFileError {
  try {
    parseHardwareConfig(text, { file: 'cost-functions.conf', ...options });
  } catch (e) {
    if (e instanceof ConfigFileError) return e;
    throw e;
  }
  throw new Error('expected a ConfigFileError');
}

describe('errors name the file, line and key', () => {
  it('bad byte unit', () => {
    const e = errorOf('ticrypt.vm.cost-functions {\n  simple {\n    memory: { curve: hard-soft, soft: 16 GiB, hard: 32 GeB }\n  }\n}\n');
    expect(e).toMatchObject({ file: 'cost-functions.conf', line: 3, key: 'ticrypt.vm.cost-functions.simple.memory.hard' });
    expect(e.reason).toMatch(/unknown byte unit "GeB"/);
    expect(e.message).toBe(`cost-functions.conf:3: ticrypt.vm.cost-functions.simple.memory.hard: ${e.reason}`);
  });

  it('a value that is neither a number nor bytes', () => {
    const e = errorOf('ticrypt.vm.cost-functions {\n  simple {\n    vcpus: { curve: hard-soft, soft: lots, hard: 16 }\n  }\n}\n');
    expect(e.message).toBe('cost-functions.conf:3: ticrypt.vm.cost-functions.simple.vcpus.soft: expected a number or bytes');
  });

  it('unknown curve type', () => {
    const e = errorOf('ticrypt.vm.cost-functions.simple {\n\n  vms: { curve: exponential }\n}');
    expect(e).toMatchObject({ line: 3, key: 'ticrypt.vm.cost-functions.simple.vms.curve' });
    expect(e.reason).toMatch(/unknown curve type "exponential"/);
  });

  it('missing required curve parameter', () => {
    const e = errorOf('ticrypt.vm.cost-functions.simple {\n  vms: { curve: linear, slope: 1 }\n}');
    expect(e).toMatchObject({ line: 2, key: 'ticrypt.vm.cost-functions.simple.vms.base', reason: 'is required' });
  });

  it('missing required profile parameter', () => {
    const e = errorOf('ticrypt.vm.cost-functions.simple {}\nticrypt.vm.hardware-profiles.node {\n  cores: 8\n  cost-function: simple\n}');
    expect(e).toMatchObject({ line: 2, key: 'ticrypt.vm.hardware-profiles.node.memory', reason: 'is required' });
  });

  it('unknown cost-function reference', () => {
    const e = errorOf(profile('    cost-function: simpel'));
    expect(e).toMatchObject({ line: 6, key: 'ticrypt.vm.hardware-profiles.node.cost-function' });
    expect(e.reason).toBe('unknown cost function "simpel" (defined: simple)');
  });

  it('malformed PCI address', () => {
    const e = errorOf(
      profile('    cost-function: simple\n    devices: [\n      {type: gpu, addr: "01:02.0"}\n      {type: gpu, addr: "1:2:3"}\n    ]'),
    );
    expect(e).toMatchObject({ line: 9, key: 'ticrypt.vm.hardware-profiles.node.devices[1].addr' });
    expect(e.reason).toMatch(/malformed PCI address "1:2:3"/);
  });

  it('missing include file', () => {
    const text = 'ticrypt.vm.cost-functions {\n  pool1 {\n    include "cost-functions/missing.conf"\n  }\n}';
    const e = errorOf(text, { file: 'conf/ticrypt-vm.conf', readInclude: readIncludeFromMap({}) });
    expect(e).toMatchObject({ file: 'conf/ticrypt-vm.conf', line: 3, key: 'ticrypt.vm.cost-functions.pool1' });
    expect(e.reason).toBe('included file "cost-functions/missing.conf" not found');
  });

  it('errors inside an included file name that file', () => {
    const readInclude = readIncludeFromMap({ 'conf/common.conf': '# shared\nvms: { curve: linear, slope: 1, base: x }\n' });
    const e = errorOf('ticrypt.vm.cost-functions.pool1 {\n  include "common.conf"\n}', { file: 'conf/main.conf', readInclude });
    expect(e).toMatchObject({ file: 'conf/common.conf', line: 2, key: 'ticrypt.vm.cost-functions.pool1.vms.base' });
  });

  it('include cycles are reported', () => {
    const readInclude = readIncludeFromMap({ 'a.conf': 'include "b.conf"', 'b.conf': 'include "a.conf"' });
    const e = errorOf('include "a.conf"', { file: 'main.conf', readInclude });
    expect(e.reason).toBe('include cycle: main.conf -> a.conf -> b.conf -> a.conf');
  });

  it('syntax error: unclosed object', () => {
    const e = errorOf('ticrypt.vm.cost-functions {\n  simple {\n    vms: { curve: constant, value: 1 }\n}\n');
    expect(e).toMatchObject({ line: 5, key: 'ticrypt.vm.cost-functions' });
    expect(e.reason).toBe('missing "}" to close the object opened at line 1');
  });

  it('syntax error: missing separator after a key', () => {
    const e = errorOf('ticrypt.vm.cost-functions {\n  simple {\n    vms [1]\n  }\n}');
    expect(e).toMatchObject({ line: 3, key: 'ticrypt.vm.cost-functions.simple.vms' });
    expect(e.reason).toBe('expected ":", "=" or "{" after the key, found "["');
  });

  it('syntax error in JSON and YAML carries the line', () => {
    expect(errorOf('{\n  "ticrypt": {\n    "vm": ,\n  }\n}', { file: 'c.json' })).toMatchObject({
      file: 'c.json',
      line: 3,
      key: 'ticrypt.vm',
    });
    expect(errorOf('ticrypt:\n  vm:\n    - a\n    b: c\n', { file: 'c.yaml' })).toMatchObject({ file: 'c.yaml', line: 4 });
  });

  it('YAML values carry their lines too', () => {
    const e = errorOf('ticrypt:\n  vm:\n    cost-functions:\n      simple:\n        vms: { curve: nope }\n', { file: 'c.yml' });
    expect(e).toMatchObject({ file: 'c.yml', line: 5, key: 'ticrypt.vm.cost-functions.simple.vms.curve' });
  });

  it('misspelt parameters are rejected rather than ignored', () => {
    const e = errorOf('ticrypt.vm.cost-functions.simple {\n  vcpus: { curve: hard-soft, soft: 1, hard: 2, softamt: 3 }\n}');
    expect(e).toMatchObject({ line: 2, key: 'ticrypt.vm.cost-functions.simple.vcpus.softamt' });
  });

  it('hard must exceed soft; cores must be a positive whole number', () => {
    expect(errorOf('ticrypt.vm.cost-functions.s.vms { curve: soft-hard, soft: 2, hard: 2 }').key).toBe(
      'ticrypt.vm.cost-functions.s.vms.hard',
    );
    const e = errorOf('ticrypt.vm.cost-functions.s {}\nticrypt.vm.hardware-profiles.n { cores: 2.5, memory: 1 GiB, cost-function: s }');
    expect(e).toMatchObject({ line: 2, key: 'ticrypt.vm.hardware-profiles.n.cores', reason: 'expected a whole number' });
  });

  it('a file with none of the sections is an error', () => {
    expect(errorOf('ticrypt.vm.costfunctions {}').reason).toMatch(/no ticrypt.vm.cost-functions/);
  });

  it('is a ValidationError whose field is the key', () => {
    const e = errorOf(profile('    cost-function: nope'));
    expect(e).toBeInstanceOf(ValidationError);
    expect(e.violations).toEqual([
      {
        field: 'ticrypt.vm.hardware-profiles.node.cost-function',
        reason: expect.stringMatching(/^cost-functions.conf:6: unknown cost function/) as unknown,
      },
    ]);
  });
});

describe('HOCON Berth does not evaluate', () => {
  it('substitutions and += elsewhere in the file are ignored', () => {
    const text =
      'ticrypt.home: "/opt"\nticrypt.logs: ${ticrypt.home}/logs\nticrypt.paths += "/x"\n' +
      'ticrypt.vm.cost-functions.simple.vms { curve: constant, value: 1 }';
    expect(parseHardwareConfig(text, { file: 'c.conf' }).costFunctions.simple?.vms).toEqual({ curve: 'constant', scale: 1, value: 1 });
  });

  it('a substitution read by a Berth section is an error naming file, line and key', () => {
    const e = errorOf('base: 8\nticrypt.vm.cost-functions.simple {\n  vcpus: { curve: linear, slope: ${base}, base: 0 }\n}');
    expect(e).toMatchObject({
      line: 3,
      key: 'ticrypt.vm.cost-functions.simple.vcpus.slope',
      reason: 'substitutions (${base}) are not supported',
    });
    const plus = errorOf('ticrypt.vm.cost-functions.simple {\n  devices += { x: 1 }\n}');
    expect(plus).toMatchObject({ line: 2, key: 'ticrypt.vm.cost-functions.simple.devices', reason: '"+=" is not supported' });
  });
});
