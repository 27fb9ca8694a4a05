import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { evaluateInterval, type GuestInput } from './interval.ts';
import { toJson } from './output.ts';
import { loadPolicySet, type PolicyFile } from './policy-set.ts';
import { guestCpu, hostSample } from './testing/policy-run.ts';

// Berth's own policies (fixtures/, MOM's language, the shape of vdsm's stock set) on hand-built
// intervals. Every expected control below is computed by hand in the comment above it.
const dir = new URL('../fixtures/', import.meta.url);
const files: PolicyFile[] = readdirSync(dir)
  .filter((n) => n.endsWith('.policy'))
  .map((name) => ({ name, text: readFileSync(new URL(name, dir), 'utf8') }));
const stockShaped = loadPolicySet(files);

const guest = (name: string, over: Record<string, unknown> = {}): GuestInput => ({
  name,
  uuid: `uuid-${name}`,
  balloon_max: 4_000_000,
  balloon_min: 1_000_000,
  mem_available: 4_000_000,
  major_fault: 0,
  minor_fault: 0,
  swap_in: 0,
  swap_out: 0,
  ...guestCpu(),
  ...over,
});
const evaluate = (hostOver: Record<string, unknown> | Record<string, unknown>[], guests: GuestInput[], set = stockShaped) =>
  evaluateInterval(set, { host: Array.isArray(hostOver) ? hostOver.map((h) => hostSample(h)) : hostSample(hostOver), guests });

describe("fixtures: Berth's stock-shaped policies", () => {
  it('load in name order as one set', () => {
    expect(stockShaped.files.map((f) => f.name)).toEqual([
      '00-defines.policy',
      '01-parameters.policy',
      '02-balloon.policy',
      '03-ksm.policy',
      '04-cputune.policy',
      '05-iotune.policy',
    ]);
    expect(stockShaped.swallowed).toBeUndefined();
  });

  it('host under pressure: guests shrink one step, or to their floor when it is closer', () => {
    // Host free share = avg(2_600_000, 2_200_000) / 16_000_000 = 2_400_000.0 / 16e6 = 0.15: pressure, not critical.
    // Guest free share = 0.20 * (0.15 / 0.20) = 0.15.
    const out = evaluate(
      [{ mem_free: 2_600_000 }, { mem_free: 2_200_000 }],
      [
        // a: used 4e6 - 2e6 = 2e6; floor max(1e6, 2e6 + 0.15*4e6) = 2.6e6; step 4e6*0.95 = 3.8e6 > floor -> 3.8e6
        guest('a', { balloon_cur: 4_000_000, mem_unused: 2_000_000 }),
        // b: used 2.5e6; floor 2.5e6 + 0.15*3e6 = 2.95e6 > step 2.85e6 -> the floor, 2.95e6 (still <= cur, move 5e4 > 7.5e3)
        guest('b', { balloon_cur: 3_000_000, mem_unused: 500_000 }),
        // c: used 1.8e6; floor 1.8e6 + 0.15*2e6 = 2.1e6 above cur 2e6: nothing to give, no control
        guest('c', { balloon_cur: 2_000_000, mem_unused: 200_000 }),
      ],
    );
    expect(out.ok).toBe(true);
    expect(out.guests.a!.balloon_target).toBeCloseTo(3_800_000, 3);
    expect(out.guests.b!.balloon_target).toBeCloseTo(2_950_000, 3);
    expect(out.guests.c!.balloon_target).toBeUndefined();
    expect(out.variables.host_pressure).toBe(true);
    expect(out.variables.host_critical).toBe(false);
  });

  it("history averages: a guest's floor uses the mean of its samples", () => {
    // Host as above (share 0.15). Guest d: balloon_cur 3e6 in every sample, mem_unused 1.1e6, 0.5e6, 0.5e6:
    // StatAvg = 2.1e6 / 3 = 0.7e6, used = 3e6 - 0.7e6 = 2.3e6, floor = 2.3e6 + 0.45e6 = 2.75e6 < step 2.85e6
    // -> 3e6 * 0.95. (The latest sample alone would give a floor of 2.95e6.)
    const d: GuestInput = {
      name: 'd',
      history: [1_100_000, 500_000, 500_000].map((u) => ({
        ...guest('d'),
        name: undefined,
        uuid: undefined,
        balloon_cur: 3_000_000,
        mem_unused: u,
      })),
    };
    const out = evaluate([{ mem_free: 2_600_000 }, { mem_free: 2_200_000 }], [d]);
    expect(out.ok).toBe(true);
    expect(out.guests.d!.balloon_target).toBe(3_000_000 * (1 - 0.05));
    expect(out.variables.host_free_share).toBe(0.15);
  });

  it('critical pressure: the free share turns negative, guests go down to balloon_min and no further', () => {
    // Host free share = 640_000 / 16e6 = 0.04 <= 0.05: critical; guest share = 0.04 - 0.05 = -0.01.
    const out = evaluate({ mem_free: 640_000 }, [
      // a: floor max(1e6, 2e6 - 0.01*4e6 = 1.96e6) = 1.96e6; step 3.8e6 -> 3.8e6
      guest('a', { balloon_cur: 4_000_000, mem_unused: 2_000_000 }),
      // e: used 0.7e6; floor max(1e6, 0.7e6 - 12_000) = 1e6 (balloon_min); step 1.14e6 -> 1.14e6
      guest('e', { balloon_cur: 1_200_000, mem_unused: 500_000 }),
      // f: at its minimum: floor max(1e6, 1e6 - 1e4) = 1e6 (the int), step 950_000 < floor -> target 1e6 = cur: no call
      guest('f', { balloon_cur: 1_000_000, mem_unused: 0 }),
    ]);
    expect(out.ok).toBe(true);
    expect(out.variables.host_critical).toBe(true);
    expect(out.guests.a!.balloon_target).toBeCloseTo(3_800_000, 3);
    expect(out.guests.e!.balloon_target).toBeCloseTo(1_140_000, 3);
    expect(out.guests.f).toEqual({ vcpu_quota: -1, vcpu_period: 100_000 });
    // KSM: avg free 640_000 <= floor 0.2*16e6 = 3.2e6 -> runs; pages 100 + 300 = 400;
    // sleep max(10, 10*16777216/16e6 = 10.48576)
    expect(out.host).toEqual({ ksm_merge_across_nodes: 1, ksm_run: 1, ksm_sleep_millisecs: 10.48576, ksm_pages_to_scan: 400 });
  });

  it('no pressure: balloons grow back toward their maximum', () => {
    // Host free share = 8e6 / 16e6 = 0.5: relaxed; guest share 0.20.
    const out = evaluate({ mem_free: 8_000_000 }, [
      // g: floor max(1e6, 1e6 + 0.2*2e6) = 1.4e6; grow max(2e6*1.05 = 2.1e6, 1.4e6) = 2.1e6
      guest('g', { balloon_cur: 2_000_000, mem_unused: 1_000_000 }),
      // h: 3.9e6*1.05 = 4.095e6 > balloon_max -> balloon_max, the int 4_000_000
      guest('h', { balloon_cur: 3_900_000, mem_unused: 1_000_000 }),
      // i: already at its maximum: no control
      guest('i', { balloon_cur: 4_000_000, mem_unused: 1_000_000 }),
      // j: busy: floor 1.9e6 + 0.2*2e6 = 2.3e6 beats the step 2.1e6 -> 2.3e6
      guest('j', { balloon_cur: 2_000_000, mem_unused: 100_000 }),
      // k: below its minimum (0.8e6 < 1e6): grows a step to 0.84e6, then the guarantee rule sets balloon_min
      guest('k', { balloon_cur: 800_000, mem_unused: 100_000 }),
    ]);
    expect(out.ok).toBe(true);
    expect(out.guests.g!.balloon_target).toBeCloseTo(2_100_000, 3);
    expect(out.guests.h!.balloon_target).toBe(4_000_000);
    expect(out.guests.i!.balloon_target).toBeUndefined();
    expect(out.guests.j!.balloon_target).toBeCloseTo(2_300_000, 3);
    expect(out.guests.k!.balloon_target).toBe(1_000_000);
    // ints stay ints, floats print as floats
    expect(toJson(out)).toContain('"h": {"balloon_target": 4000000,');
    expect(toJson(out)).toContain('"j": {"balloon_target": 2300000.0,');
    // KSM not needed: floor 3.2e6 + shareable 0 < 16e6 and free 8e6 > 3.2e6 -> ksm_run 0
    expect(out.host).toEqual({ ksm_merge_across_nodes: 1, ksm_run: 0 });
  });

  it('KSM starts exactly at the free threshold and stays off just above it', () => {
    // floor = 16e6 * 0.2 = 3_200_000.0; at mem_free 3.2e6: 3.2e6 <= 3.2e6 -> run; not below -> pages decay 100 - 50 = 50 -> clamp 64
    const at = evaluate({ mem_free: 3_200_000 }, []);
    expect(at.host).toEqual({ ksm_merge_across_nodes: 1, ksm_run: 1, ksm_sleep_millisecs: 10.48576, ksm_pages_to_scan: 64 });
    const above = evaluate({ mem_free: 3_200_001 }, []);
    expect(above.host).toEqual({ ksm_merge_across_nodes: 1, ksm_run: 0 });
    // much shareable memory starts it too: 3.2e6 + 12.8e6 >= 16e6; pages 1240 + 300 -> ceiling 1250 (free 1e6 < floor)
    const shareable = evaluate({ mem_free: 1_000_000, ksm_shareable: 12_800_000, ksm_pages_to_scan: 1240 }, []);
    expect(shareable.host.ksm_pages_to_scan).toBe(1250);
  });

  it('KSM stops with unmerge (2) when shared pages exist and the NUMA policy must change', () => {
    // pages_shared 500 > 0 and merge_across_nodes 0 != wanted 1 -> unmerge 2; no merge_across_nodes control
    const out = evaluate({ mem_free: 1_000_000, ksm_pages_shared: 500, ksm_merge_across_nodes: 0 }, []);
    expect(out.host).toEqual({ ksm_run: 2 });
  });

  it('a replacement 00-defines (same policy name, later file) switches KSM and ballooning off', () => {
    const off = files
      .find((f) => f.name === '00-defines.policy')!
      .text.replace('(defvar ksm_enabled 1)', '(defvar ksm_enabled 0)')
      .replace('(defvar balloon_enabled 1)', '(defvar balloon_enabled 0)');
    const set = loadPolicySet([...files, { name: '00-defines.policy', text: off }]);
    const out = evaluate({ mem_free: 1_000_000 }, [guest('a', { balloon_cur: 2_000_000, mem_unused: 1_000_000 })], set);
    expect(out.host.ksm_run).toBe(0); // pages_shared 0 -> unmerge 0, and KSM disabled
    // ballooning off: no shrink under pressure; grow: share 0.2*(0.0625/0.2) = 0.0625, floor 1e6 + 125_000,
    // step 2.1e6 -> grows to 2.1e6
    expect(out.guests.a!.balloon_target).toBeCloseTo(2_100_000, 3);
  });

  it('CPU tune: quota per vCPU, stretched under 1000 us; unlimited guests get the quota off', () => {
    const out = evaluate({ mem_free: 8_000_000 }, [
      // 50% of 8 CPUs: (50/100.0) * (100000*8) / 2 vCPUs = 200000.0, stretch 1 -> quota 200000.0, period 1*100000 = 100000 = current: not sent
      guest('l', guestCpu({ vcpu_user_limit: 50, vcpu_count: 2 })),
      // 1% over 16 vCPUs: 0.01 * 800000 / 16 = 500.0 -> stretch 1 + 1000/500.0 = 3.0 -> quota 1500.0, period 300000.0
      guest('m', guestCpu({ vcpu_user_limit: 1, vcpu_count: 16 })),
      // 100%: quota off
      guest('n', guestCpu({ vcpu_user_limit: 100, vcpu_quota: 5000 })),
    ]);
    expect(out.guests.l).toEqual({ vcpu_quota: 200_000 });
    expect(out.guests.m).toEqual({ vcpu_quota: 1500, vcpu_period: 300_000 });
    expect(out.guests.n).toEqual({ vcpu_quota: -1, vcpu_period: 100_000 });
    expect(toJson(out)).toContain('"m": {"vcpu_quota": 1500.0, "vcpu_period": 300000.0}');
  });

  it("I/O tune: each disk gets its maximum; the change is what MOM's IoTune controller sends", () => {
    const maximum = {
      total_bytes_sec: 1000,
      read_bytes_sec: 0,
      write_bytes_sec: 0,
      total_iops_sec: 200,
      read_iops_sec: 0,
      write_iops_sec: 0,
    };
    const zero = { total_bytes_sec: 0, read_bytes_sec: 0, write_bytes_sec: 0, total_iops_sec: 0, read_iops_sec: 0, write_iops_sec: 0 };
    const out = evaluate({ mem_free: 8_000_000 }, [
      guest('o', {
        io_tune: [{ name: 'vda', path: '/d/vda', guaranteed: zero, maximum, current: { ...zero } }],
        io_tune_current: [{ name: 'vda', path: '/d/vda', ioTune: zero }],
      }),
      // already at its maximum: nothing to send
      guest('p', {
        io_tune: [{ name: 'vda', path: '/d/vda', guaranteed: zero, maximum, current: { ...maximum } }],
        io_tune_current: [{ name: 'vda', path: '/d/vda', ioTune: maximum }],
      }),
    ]);
    expect(out.guests.o!.io_tune).toEqual([{ name: 'vda', path: '/d/vda', ioTune: maximum }]);
    expect(out.guests.p!.io_tune).toBeUndefined();
  });

  it('a guest missing an optional statistic keeps the rest of the policy', () => {
    // no balloon_cur / mem_unused (optional under GuestBalloonOptional, GuestMemoryOptional): no balloon
    // control (the policy's `valid` test), no io_tune (optional): nothing; CPU tune still applies.
    const q: GuestInput = { name: 'q', ...guestCpu({ vcpu_user_limit: 50, vcpu_count: 2 }) };
    const out = evaluate({ mem_free: 2_000_000 }, [q]);
    expect(out.ok).toBe(true);
    expect(out.excluded_guests).toEqual([]);
    expect(out.guests.q).toEqual({ vcpu_quota: 200_000 });
  });

  it('a guest missing a mandatory statistic is left out of Guests for the interval', () => {
    const { vcpu_count: _gone, ...rest } = guest('r', { balloon_cur: 4_000_000, mem_unused: 2_000_000 });
    const out = evaluate({ mem_free: 2_000_000 }, [rest, guest('s', { balloon_cur: 4_000_000, mem_unused: 2_000_000 })]);
    expect(out.ok).toBe(true);
    expect(out.excluded_guests).toEqual(['r']);
    expect(Object.keys(out.guests)).toEqual(['s']);
  });

  it('a host missing a mandatory statistic is not evaluated at all', () => {
    const { cpu_count: _gone, ...host } = hostSample();
    const out = evaluateInterval(stockShaped, { host, guests: [] });
    expect(out.ok).toBeNull();
    expect(out.error).toMatch(/cpu_count/);
    expect(out.host).toEqual({});
  });
});
