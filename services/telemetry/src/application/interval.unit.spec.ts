import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { momEngine } from '../adapters/mom/engine.ts';
import { DEFAULT_POLICY_DIR } from '../adapters/mom/default-policy.ts';
import { runInterval, type IntervalInput } from './interval.ts';

const files = readdirSync(DEFAULT_POLICY_DIR)
  .sort()
  .map((name) => ({ name, text: readFileSync(`${DEFAULT_POLICY_DIR}/${name}`, 'utf8') }));
const compiled = momEngine.compile(files);
if (!compiled.ok) throw new Error(`default policy does not parse: ${compiled.file}:${compiled.line} ${compiled.message}`);
const set = compiled.set;

const GiB = 1024 * 1024; // KiB
const host = (freeKib: number, over: Record<string, number> = {}) => ({
  mem_available: 16 * GiB,
  mem_unused: freeKib,
  mem_free: freeKib,
  swap_in: 0,
  swap_out: 0,
  anon_pages: 0,
  swap_total: 0,
  swap_usage: 0,
  ksm_run: 0,
  ksm_pages_to_scan: 100,
  ksm_sleep_millisecs: 10,
  ksm_pages_shared: 0,
  ksm_pages_sharing: 0,
  ksm_pages_unshared: 0,
  ksm_pages_volatile: 0,
  ksm_full_scans: 0,
  ksm_merge_across_nodes: 1,
  ksm_shareable: 12 * GiB,
  ksmd_cpu_usage: 0,
  cpu_count: 8,
  ...over,
});
const guest = (name: string, tier: string, cur: number, unused: number, over: Record<string, number> = {}) => ({
  name,
  uuid: name,
  props: { sla_tier: tier, priority: 0 },
  history: [
    {
      balloon_cur: cur,
      balloon_max: 4 * GiB,
      balloon_min: tier === 'platinum' ? 4 * GiB : tier === 'gold' ? 3 * GiB : 0,
      mem_unused: unused,
      mem_available: cur,
      major_fault: 0,
      minor_fault: 0,
      swap_in: 0,
      swap_out: 0,
      vcpu_quota: -1,
      vcpu_period: 100_000,
      vcpu_user_limit: 100,
      vcpu_count: 2,
      ...over,
    },
  ],
});
const caps = { hostMemory: true, ksmStats: true, ksmRun: true, ksmTune: true, cpuTune: true, ioTune: true, balloon: true };
const input = (hostSample: object, guests: ReturnType<typeof guest>[], capabilities = caps): IntervalInput => ({
  mom: { host: [hostSample as Record<string, number>], host_props: {}, guests, config: { history_length: 10 } },
  capabilities,
  ioTuneApplied: {},
});

describe("Berth's default policy through the interval pipeline (hand-computed targets)", () => {
  it('under pressure (10% free) a guest gives half of what it leaves unused above the 20% goal, at most 5% of its balloon', () => {
    // cur 4 GiB, unused 1 GiB: spare = 1 GiB - 0.8 GiB = 0.2 GiB, half = 104857.6 KiB < step 209715.2 KiB.
    const r = runInterval(momEngine, set, input(host(1.6 * GiB), [guest('s', 'silver', 4 * GiB, 1 * GiB)]));
    expect(r.ok).toBe(true);
    expect(r.controls.find((c) => c.kind === 'balloon')).toEqual({ kind: 'balloon', vmId: 's', targetKib: Math.round(4 * GiB - 104857.6) });
  });

  it('at critical pressure (3% free) guests give twice the step; platinum stays whole and gold stops at 75%', () => {
    const r = runInterval(
      momEngine,
      set,
      input(host(0.03 * 16 * GiB), [
        guest('p', 'platinum', 4 * GiB, 2 * GiB),
        guest('g', 'gold', 3.25 * GiB, 2 * GiB),
        guest('s', 'silver', 4 * GiB, 0),
      ]),
    );
    const balloons = r.controls.filter((c) => c.kind === 'balloon');
    // silver: 4 GiB - 2 * 0.05 * 4 GiB; gold: the policy's own floor is balloon_min = 3 GiB (0.75 of 4 GiB).
    expect(balloons).toEqual([
      { kind: 'balloon', vmId: 'g', targetKib: 3 * GiB },
      { kind: 'balloon', vmId: 's', targetKib: Math.round(4 * GiB * 0.9) },
    ]);
    expect(r.balloonReliefKib).toBe(0.25 * GiB + Math.round(4 * GiB * 0.1));
  });

  it('without pressure balloons grow back toward their maximum by one step', () => {
    const r = runInterval(momEngine, set, input(host(8 * GiB), [guest('s', 'silver', 3 * GiB, 0)]));
    expect(r.controls.filter((c) => c.kind === 'balloon')).toEqual([{ kind: 'balloon', vmId: 's', targetKib: Math.round(3 * GiB * 1.05) }]);
    // at the maximum already: nothing to send
    expect(
      runInterval(momEngine, set, input(host(8 * GiB), [guest('s', 'silver', 4 * GiB, 0)])).controls.filter((c) => c.kind === 'balloon'),
    ).toEqual([]);
  });

  it('KSM starts below 20% free when guests hold enough, scanning faster; stops above it, slower; the sleep follows host size', () => {
    const on = runInterval(momEngine, set, input(host(2 * GiB), []));
    expect(on.controls).toEqual([{ kind: 'ksm', run: 1, pagesToScan: 400 }]);
    const off = runInterval(momEngine, set, input(host(8 * GiB, { ksm_run: 1, ksm_pages_to_scan: 400 }), []));
    expect(off.controls).toEqual([{ kind: 'ksm', run: 0, pagesToScan: 350 }]);
  });

  it('a host whose hypervisor cannot start KSM (libvirt) gets the tuning but not run, declared unsupported', () => {
    const r = runInterval(momEngine, set, input(host(2 * GiB), [], { ...caps, ksmRun: false }));
    expect(r.controls).toEqual([{ kind: 'ksm', pagesToScan: 400 }]);
    expect(r.unsupported).toEqual(['host ksm_run']);
  });

  it('a guest missing an optional statistic is still ballooned; one missing a mandatory one is excluded', () => {
    const noUnused = guest('a', 'silver', 4 * GiB, 0);
    const h = noUnused.history[0] as Record<string, number>;
    delete h['mem_unused'];
    const noQuota = guest('b', 'silver', 4 * GiB, 1 * GiB);
    delete (noQuota.history[0] as Record<string, number>)['vcpu_quota'];
    const r = runInterval(momEngine, set, input(host(0.03 * 16 * GiB), [noUnused, noQuota]));
    expect(r.excludedGuests).toEqual(['b']);
    expect(r.controls.filter((c) => c.kind === 'balloon').map((c) => c.kind === 'balloon' && c.vmId)).toEqual(['a']);
  });

  it('the evaluation uses the history average of mem_free', () => {
    const hist = input(host(8 * GiB), [guest('s', 'silver', 4 * GiB, 1 * GiB)]);
    // two samples: 1% and 29% free average to 15% -> pressure (not critical): the shrink target, not the critical one
    const mom = { ...hist.mom, host: [host(0.01 * 16 * GiB), host(0.29 * 16 * GiB)] };
    const r = runInterval(momEngine, set, { ...hist, mom });
    expect(r.controls.find((c) => c.kind === 'balloon')).toEqual({ kind: 'balloon', vmId: 's', targetKib: Math.round(4 * GiB - 104857.6) });
  });
});

describe('I/O and CPU tune through the interval pipeline (the stock-shaped set of @berth/mom-policy/fixtures)', () => {
  const dir = new URL('../../../../libs/mom-policy/fixtures/', import.meta.url);
  const stockShaped = momEngine.compile(
    readdirSync(dir)
      .filter((n) => n.endsWith('.policy'))
      .sort()
      .map((name) => ({ name, text: readFileSync(new URL(name, dir), 'utf8') })),
  );
  if (!stockShaped.ok) throw new Error(`fixtures do not parse: ${stockShaped.file}:${stockShaped.line} ${stockShaped.message}`);
  const zero = { total_bytes_sec: 0, read_bytes_sec: 0, write_bytes_sec: 0, total_iops_sec: 0, read_iops_sec: 0, write_iops_sec: 0 };
  const disk = (current: Record<string, number>) => ({
    name: 'vda',
    path: '/pool/a-disk0',
    guaranteed: zero,
    maximum: { ...zero, total_bytes_sec: 2_097_152, total_iops_sec: 300 },
    current: { ...zero, ...current },
  });

  it("05-iotune gives each disk its maximum: MOM's controller sends the changed disks, the executor gets every limit of them", () => {
    const a = { ...guest('a', 'silver', 4 * GiB, 1 * GiB), ioTune: [disk({})] };
    const b = guest('b', 'silver', 4 * GiB, 1 * GiB); // no disk data: left alone
    const r = runInterval(momEngine, stockShaped.set, input(host(8 * GiB), [a, b]));
    expect(r.ok).toBe(true);
    expect(r.decided.guests['a']?.['io_tune']).toEqual([
      { name: 'vda', path: '/pool/a-disk0', ioTune: { ...zero, total_bytes_sec: 2_097_152, total_iops_sec: 300 } },
    ]);
    expect(r.controls.filter((c) => c.kind === 'ioTune')).toEqual([
      {
        kind: 'ioTune',
        vmId: 'a',
        device: 'vda',
        totalBytesSec: 2_097_152,
        readBytesSec: 0,
        writeBytesSec: 0,
        totalIopsSec: 300,
        readIopsSec: 0,
        writeIopsSec: 0,
      },
    ]);
    // the disk already at its maximum (io_tune_current): nothing changed, nothing sent
    const done = { ...a, ioTune: [disk({ total_bytes_sec: 2_097_152, total_iops_sec: 300 })] };
    expect(runInterval(momEngine, stockShaped.set, input(host(8 * GiB), [done])).controls.filter((c) => c.kind === 'ioTune')).toEqual([]);
    // a host that declares no I/O tuning: not sent, said so
    const no = runInterval(momEngine, stockShaped.set, input(host(8 * GiB), [a], { ...caps, ioTune: false }));
    expect(no.controls.filter((c) => c.kind === 'ioTune')).toEqual([]);
    expect(no.unsupported).toContain('guest a io_tune');
  });

  it('04-cputune: a guest limited to 50% of a 8-CPU host with 2 vCPUs gets quota 50% x 100000 x 8 / 2 per vCPU', () => {
    const g = guest('a', 'silver', 4 * GiB, 1 * GiB, { vcpu_user_limit: 50 });
    const r = runInterval(momEngine, stockShaped.set, input(host(8 * GiB), [g]));
    expect(r.controls.filter((c) => c.kind === 'cpuTune')).toEqual([{ kind: 'cpuTune', vmId: 'a', quota: 200_000, period: 100_000 }]);
    const off = runInterval(momEngine, stockShaped.set, input(host(8 * GiB), [g], { ...caps, cpuTune: false }));
    expect(off.unsupported).toContain('guest a vcpu_quota/vcpu_period');
  });
});
