import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { evaluateInterval } from './interval.ts';
import { loadPolicySet } from './policy-set.ts';
import { guestCpu, hostSample } from './testing/policy-run.ts';

// oVirt's stock policies (vdsm static/etc/vdsm/mom.d) loaded unchanged. Their text is not in this
// repository, so this spec is not part of `npm test` (which never skips): it is the `external`
// Vitest project, run by `npm run test:mom-stock` with MOM_STOCK_POLICY_DIR naming a copy of that
// directory, and it fails when the variable does not name one.
const dir = process.env.MOM_STOCK_POLICY_DIR ?? '';
if (dir === '' || !existsSync(dir)) {
  throw new Error(`MOM_STOCK_POLICY_DIR must name a copy of vdsm's static/etc/vdsm/mom.d (got '${dir}')`);
}

describe('vdsm stock policies, unchanged', () => {
  const files = readdirSync(dir)
    .filter((n) => n.endsWith('.policy') && !n.startsWith('.'))
    .map((name) => ({ name, text: readFileSync(join(dir, name), 'utf8') }));
  const lim = { total_bytes_sec: 0, read_bytes_sec: 0, write_bytes_sec: 0, total_iops_sec: 0, read_iops_sec: 0, write_iops_sec: 0 };
  const vm = (name: string, over: Record<string, unknown> = {}) => ({
    name,
    uuid: name,
    ...guestCpu({ vcpu_user_limit: 50, vcpu_count: 2 }),
    balloon_cur: 2_000_000,
    balloon_max: 4_000_000,
    balloon_min: 1_000_000,
    mem_unused: 500_000,
    io_tune: [{ name: 'vda', path: '/p', guaranteed: lim, maximum: { ...lim, total_bytes_sec: 1000 }, current: { ...lim } }],
    io_tune_current: [{ name: 'vda', path: '/p', ioTune: lim }],
    ...over,
  });

  it('load and run under pressure, relaxed, and with guests missing statistics', () => {
    const set = loadPolicySet(files);
    expect(set.files.length).toBeGreaterThanOrEqual(6);
    expect(set.swallowed).toBeUndefined();
    for (const memFree of [640_000, 2_400_000, 8_000_000]) {
      // b lacks the optional memory statistics (mem_unused...): the policy's `valid` test skips it.
      const b = { name: 'b', ...guestCpu(), balloon_cur: 1_000_000, balloon_max: 2_000_000, balloon_min: 500_000 };
      const out = evaluateInterval(set, {
        host: [hostSample({ mem_free: memFree }), hostSample({ mem_free: memFree })],
        guests: [vm('a'), b, { name: 'c' }],
      });
      expect(out.ok, out.error).toBe(true);
      expect(out.excluded_guests).toEqual(['c']);
      // CpuTune: 50% of 8 CPUs over 2 vCPUs = (50/100.0)*(100000*8)/2
      expect(out.guests.a!.vcpu_quota).toBe(200_000);
      expect(out.guests.a!.io_tune).toEqual([{ name: 'vda', path: '/p', ioTune: { ...lim, total_bytes_sec: 1000 } }]);
      expect(out.host.ksm_run).toBeDefined();
    }
  });

  it('a guest without balloon statistics fails the whole interval, as it does in MOM', () => {
    // The stock guest_qos rule compares guest.balloon_cur with guest.balloon_min, both None when the
    // optional balloon statistics are missing: None < None is a TypeError in Python 3.
    const out = evaluateInterval(loadPolicySet(files), { host: hostSample(), guests: [vm('a'), { name: 'b', ...guestCpu() }] });
    expect(out.ok).toBe(false);
    expect(out.error).toMatch(/TypeError: '<' not supported between instances of 'NoneType' and 'NoneType'/);
  });
});
