import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadHardwareConfigFile } from './load.ts';
import type { CurveSpec } from './model.ts';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const GiB = 1024 ** 3;

const linear01: CurveSpec = { curve: 'linear', scale: 1, slope: 1, base: 0 };
const vcpus: CurveSpec = { curve: 'hard-soft', scale: 1, soft: 8, hard: 16, softAmt: 4, hardAmt: 32 };
const memoryScaled: CurveSpec = { curve: 'hard-soft', scale: 10, soft: 16 * GiB, hard: 32 * GiB, softAmt: 1, hardAmt: 10 };

describe('seed 003 cost function examples', () => {
  it('basic: simple with linear vms, hard-soft vcpus and memory in bytes', async () => {
    const config = await loadHardwareConfigFile(fixture('cost-function-basic.conf'));
    expect(config.costFunctions).toEqual({
      simple: {
        id: 'simple',
        name: 'Simple',
        description: 'A basic cost function',
        vms: linear01,
        vcpus,
        memory: memoryScaled,
        devices: {},
        scale: 1,
        offset: 0,
      },
    });
    expect(config.costFunctions.simple?.memory).toMatchObject({ soft: 17179869184, hard: 34359738368 });
    expect(config.profiles).toEqual({});
  });

  it('basic, alternative memory line: "32 Gib" is 32 GiB, amounts instead of scale', async () => {
    const config = await loadHardwareConfigFile(fixture('cost-function-basic-alternative.conf'));
    expect(config.costFunctions.simple?.memory).toEqual({
      curve: 'hard-soft',
      scale: 1,
      soft: 16 * GiB,
      hard: 32 * GiB,
      softAmt: 10,
      hardAmt: 100,
    });
  });

  it('GPU: devices.nvidia-gpu path key becomes a device curve; offset 100000', async () => {
    const config = await loadHardwareConfigFile(fixture('cost-function-gpu.conf'));
    const gpu = config.costFunctions['nvidia-gpu']!;
    expect(gpu.devices).toEqual({ 'nvidia-gpu': { curve: 'linear', scale: 1, max: 2, slope: 1, base: 0 } });
    expect(gpu).toMatchObject({ name: 'GPU Node', offset: 100000, scale: 1, vms: linear01, vcpus, memory: memoryScaled });
  });

  it('pools: both functions get the included curves, pool2 adds offset 1000', async () => {
    const config = await loadHardwareConfigFile(fixture('cost-functions-pools.conf'));
    const common = { description: '', vms: linear01, vcpus, memory: memoryScaled, devices: {}, scale: 1 };
    expect(config.costFunctions).toEqual({
      pool1: { id: 'pool1', name: 'Pool 1', offset: 0, ...common },
      pool2: { id: 'pool2', name: 'Pool 2', offset: 1000, ...common },
    });
  });
});

describe('seed 003 hardware profile examples', () => {
  it('loads pool1, pool2 and nvidia-gpu-node with normalised PCI addresses', async () => {
    const config = await loadHardwareConfigFile(fixture('ticrypt-vm.conf'));
    expect(Object.keys(config.costFunctions).sort()).toEqual(['nvidia-gpu', 'pool1', 'pool2']);
    expect(config.profiles).toEqual({
      pool1: {
        id: 'pool1',
        name: 'Pool 1',
        description: 'Standard host in pool 1',
        cores: 8,
        memoryBytes: 32 * GiB,
        devices: [],
        costFunction: 'pool1',
      },
      pool2: {
        id: 'pool2',
        name: 'Pool 2',
        description: 'Standard host in pool 2',
        cores: 8,
        memoryBytes: 32 * GiB,
        devices: [],
        costFunction: 'pool2',
      },
      'nvidia-gpu-node': {
        id: 'nvidia-gpu-node',
        name: 'NVidia GPU Node',
        description: 'Special nodes with NVidia GPUs attached',
        cores: 8,
        memoryBytes: 34359738368,
        costFunction: 'nvidia-gpu',
        devices: [
          { type: 'nvidia-gpu', address: '0000:01:02.0' },
          { type: 'nvidia-gpu', address: '0000:02:03.0' },
        ],
      },
    });
  });

  it('JSON and YAML equivalents give equal results', async () => {
    const hocon = await loadHardwareConfigFile(fixture('ticrypt-vm.conf'));
    expect(await loadHardwareConfigFile(fixture('ticrypt-vm.json'))).toEqual(hocon);
    expect(await loadHardwareConfigFile(fixture('ticrypt-vm.yaml'))).toEqual(hocon);
  });
});

describe('seed 003 curve examples', () => {
  it('every curve example loads with aliases and defaults resolved', async () => {
    const devices = (await loadHardwareConfigFile(fixture('curves.conf'))).costFunctions['curve-examples']!.devices;
    const invalid: CurveSpec = { curve: 'invalid', scale: 1 };
    expect(devices).toEqual({
      constant: { curve: 'constant', scale: 1, value: 1 },
      invalid,
      'linear-1': { curve: 'linear', scale: 1, slope: 1, base: 0 },
      'linear-2': { curve: 'linear', scale: 1, slope: 10, base: 5 },
      'hard-soft-1': { curve: 'hard-soft', scale: 1, soft: 1, hard: 2, softAmt: 1, hardAmt: 10 },
      'hard-soft-amounts': { curve: 'hard-soft', scale: 1, soft: 32 * GiB, hard: 48 * GiB, softAmt: 10, hardAmt: 100 },
      'hard-soft-scaled': { curve: 'hard-soft', scale: 10, soft: 32 * GiB, hard: 48 * GiB, softAmt: 1, hardAmt: 10 },
      unavailable: { curve: 'unavailable', scale: 1 },
      'piecewise-constant': { curve: 'piecewise', scale: 1, cutoff: 6, low: { curve: 'constant', scale: 1, value: 5 }, high: invalid },
      'piecewise-as-hard-soft': {
        curve: 'piecewise',
        scale: 1,
        cutoff: 1,
        low: { curve: 'linear', scale: 1, slope: 1, base: 0 },
        high: { curve: 'piecewise', scale: 1, cutoff: 2, low: { curve: 'linear', scale: 1, slope: 9, base: -8 }, high: invalid },
      },
      'piecewise-as-unavailable': {
        curve: 'piecewise',
        scale: 1,
        cutoff: 0,
        low: { curve: 'constant', scale: 1, value: 0 },
        high: invalid,
      },
    });
  });

  it('the nested piecewise example also loads as the seed writes it, without commas', async () => {
    const verbatim = await loadHardwareConfigFile(fixture('curves-verbatim-piecewise.conf'));
    const fixed = await loadHardwareConfigFile(fixture('curves.conf'));
    const name = 'piecewise-as-hard-soft';
    expect(verbatim.costFunctions['curve-examples']!.devices[name]).toEqual(fixed.costFunctions['curve-examples']!.devices[name]);
  });
});
