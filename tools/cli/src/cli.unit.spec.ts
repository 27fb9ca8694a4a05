import { describe, expect, it } from 'vitest';
import { modelV1 } from '@berth/contracts';
import { findCommand, parseCommandLine, runCli, type CliDeps } from './cli.ts';
import type { Backends } from './grpc.ts';

function cli(files: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  let connected = 0;
  const deps: CliDeps = {
    env: {},
    io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    // Nothing here may reach a service: every case below fails or finishes before a call.
    connect: (endpoints) => {
      const refuse = (): never => {
        connected++;
        throw new Error(`unexpected call to ${endpoints.inventory}`);
      };
      return { endpoints, inventory: refuse, scheduler: refuse, migration: refuse, close: () => undefined } satisfies Backends;
    },
    readFile: async (path) => {
      const text = files[path];
      if (text === undefined) throw Object.assign(new Error(`ENOENT: no such file, open '${path}'`), { code: 'ENOENT' });
      return text;
    },
  };
  return { deps, out, err, calls: () => connected };
}

describe('command lookup and argument parsing', () => {
  it('finds two-word and one-word commands with global options anywhere', () => {
    expect(findCommand(['--inventory', 'h:1', 'hosts', '--json', 'list']).command?.words).toEqual(['hosts', 'list']);
    expect(findCommand(['explain', 'vm-1']).command?.words).toEqual(['explain']);
    expect(findCommand(['hosts', 'frobnicate']).command).toBeUndefined();
  });

  it('positionals, repeatable options and flags', () => {
    const { command } = findCommand(['vms', 'create']);
    const { input } = parseCommandLine(command!, [
      'vms',
      'create',
      'web-1',
      '--vcpus',
      '2',
      '--tag',
      'a',
      '--tag',
      'b',
      '--dedicated',
      '--json',
    ]);
    expect(input.arg('NAME')).toBe('web-1');
    expect(input.string('vcpus')).toBe('2');
    expect(input.list('tag')).toEqual(['a', 'b']);
    expect(input.flag('dedicated')).toBe(true);
  });

  it.each([
    [['hosts', 'show'], 'berth hosts show: HOST: is required'],
    [['hosts', 'state', 'h1'], 'berth hosts state: STATE: is required'],
    [['hosts', 'show', 'h1', 'h2'], 'berth hosts show: unexpected argument "h2"'],
    [['hosts', 'list', '--frob'], "berth hosts list: Unknown option '--frob'"],
    [
      ['hosts', 'state', 'h1', 'asleep'],
      'berth hosts state: STATE: expected one of enabled, no-scheduling, disabled, maintenance, got "asleep"',
    ],
    [['hosts', 'add', 'h1'], 'berth hosts add: --uri: is required (e.g. qemu:///system)'],
    [
      ['hosts', 'add', 'h1', '--uri', 'qemu:///system', '--cpu-overcommit', '11'],
      'berth hosts add: --cpu-overcommit: must be between 0 and 10, got 11',
    ],
    [['vms', 'create', 'v', '--vcpus', '2', '--memory', '4 GeB'], 'berth vms create: --memory: unknown byte unit "GeB"'],
    [['vms', 'list', '--timeout', 'soon'], 'berth vms list: --timeout: expected a duration'],
  ])('%j is a usage error (exit 2) naming the field', async (argv, message) => {
    const c = cli();
    expect(await runCli(argv, c.deps)).toBe(2);
    expect(c.err.join('\n')).toContain(message);
    expect(c.out).toEqual([]);
  });

  it('unknown commands print the command list', async () => {
    const c = cli();
    expect(await runCli(['launch', 'rockets'], c.deps)).toBe(2);
    expect(c.err[0]).toMatch(/^berth: unknown command "launch rockets"/);
    expect(c.err[0]).toContain('hosts add NAME');
  });

  it("--help prints a command's options and exits 0 without connecting", async () => {
    const c = cli();
    expect(await runCli(['vms', 'create', '--help'], c.deps)).toBe(0);
    expect(c.out[0]).toMatch(/^usage: berth vms create NAME \[options\]/);
    expect(c.out[0]).toContain('--disk SIZE[@POOL]');
    expect(c.calls()).toBe(0);
  });
});

describe('berth config apply', () => {
  it('a bad file is reported with file, line and key before anything is sent', async () => {
    const c = cli({
      'conf/hw.conf': 'ticrypt.vm.cost-functions {\n  simple {\n    memory: { curve: hard-soft, soft: 16 GiB, hard: 32 GeB }\n  }\n}\n',
    });
    expect(await runCli(['config', 'apply', 'conf/hw.conf'], c.deps)).toBe(2);
    expect(c.err).toEqual([
      'berth config apply: conf/hw.conf:3: ticrypt.vm.cost-functions.simple.memory.hard: unknown byte unit "GeB" (use B, KiB, MiB, GiB, TiB, kB, MB, GB, TB)',
    ]);
    expect(c.calls()).toBe(0);
  });

  it('--dry-run --json prints the message that would be sent', async () => {
    const text =
      'ticrypt.vm.cost-functions.gpu { devices.nvidia-gpu: { curve: linear, slope: 1, base: 0, max: 2 }, offset: 100000 }\n' +
      'ticrypt.vm.hardware-profiles.node { cores: 8, memory: 32 GiB, cost-function: gpu, devices: [{ type: nvidia-gpu, addr: "02:03.0" }] }';
    const c = cli({ 'hw.conf': text });
    expect(await runCli(['config', 'apply', 'hw.conf', '--dry-run', '--json'], c.deps)).toBe(0);
    const printed = JSON.parse(c.out[0]!) as { applied: boolean; config: unknown };
    expect(printed.applied).toBe(false);
    const config = modelV1.HardwareConfig.fromJSON(printed.config);
    expect(config.hardwareProfiles).toEqual([
      {
        id: 'node',
        name: 'node',
        description: '',
        cores: 8,
        memoryBytes: 34359738368,
        devices: [{ type: 'nvidia-gpu', address: '0000:02:03.0' }],
        costFunctionId: 'gpu',
      },
    ]);
    expect(config.costFunctions[0]?.devices['nvidia-gpu']).toEqual({ curve: 'linear', scale: 1, max: 2, slope: 1, base: 0 });
    expect(config.costFunctions[0]?.offset).toBe(100000);
  });

  it('a missing file is a usage error', async () => {
    const c = cli();
    expect(await runCli(['config', 'apply', 'nope.conf'], c.deps)).toBe(2);
    expect(c.err[0]).toContain("no such file, open 'nope.conf'");
  });
});

describe('berth config apply refuses to send nothing', () => {
  it('a file with only realm settings is not applied (it would replace every profile with none)', async () => {
    const c = cli({ 'realm.conf': 'berth.realm { drives.cache: writeback }' });
    expect(await runCli(['config', 'apply', 'realm.conf'], c.deps)).toBe(2);
    expect(c.err[0]).toBe(
      'berth config apply: FILE: realm.conf defines no cost functions and no hardware profiles; nothing to apply\n(berth config apply --help for usage)',
    );
    expect(c.calls()).toBe(0);
  });

  it('realm settings next to profiles are validated and reported as not sent', async () => {
    const c = cli({ 'hw.conf': 'ticrypt.vm.cost-functions.s.vms { curve: constant, value: 1 }\nberth.realm { drives.cache: writeback }' });
    expect(await runCli(['config', 'apply', 'hw.conf', '--dry-run'], c.deps)).toBe(0);
    expect(c.out[0]).toMatch(
      /^hw.conf: valid \(1 cost functions, 0 hardware profiles\), not applied\n\(the berth.realm section is valid but not sent/,
    );
  });
});
