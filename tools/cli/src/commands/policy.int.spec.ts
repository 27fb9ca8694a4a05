import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

// The real command line, as an operator runs it: `berth policy eval --policy DIR < input.json`,
// Berth's own stock-shaped policies, one host under pressure, one guest and one not ready.
const bin = fileURLToPath(new URL('../../bin/berth.js', import.meta.url));
const fixtures = fileURLToPath(new URL('../../../../libs/mom-policy/fixtures', import.meta.url));
const host = (memFree: number) => ({
  mem_available: 16_000_000,
  mem_unused: 0,
  mem_free: memFree,
  swap_in: 0,
  swap_out: 0,
  anon_pages: 0,
  swap_total: 0,
  swap_usage: 0,
  ksm_full_scans: 0,
  ksm_pages_sharing: 0,
  ksm_pages_unshared: 0,
  ksm_run: 0,
  ksm_pages_shared: 0,
  ksm_pages_to_scan: 100,
  ksm_pages_volatile: 0,
  ksm_sleep_millisecs: 10,
  ksm_merge_across_nodes: 1,
  ksm_shareable: 0,
  ksmd_cpu_usage: 0,
  cpu_count: 8,
});

describe('berth policy eval (process)', () => {
  it('reads the input on stdin and prints one JSON object', () => {
    const input = {
      host: [host(2_600_000), host(2_200_000)],
      guests: [
        {
          name: 'a',
          uuid: 'u-a',
          balloon_cur: 4_000_000,
          balloon_max: 4_000_000,
          balloon_min: 1_000_000,
          mem_unused: 2_000_000,
          vcpu_quota: -1,
          vcpu_period: 100_000,
          vcpu_user_limit: 50,
          vcpu_count: 2,
        },
        { name: 'z' },
      ],
    };
    const r = spawnSync(process.execPath, [bin, 'policy', 'eval', '--policy', fixtures], {
      input: JSON.stringify(input),
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    // host free share avg(2.6e6, 2.2e6)/16e6 = 0.15 -> pressure: a shrinks one step to 3.8e6; KSM runs (2.4e6 <= 3.2e6),
    // pages 100 + 300; CPU: (50/100.0)*(100000*8)/2 = 200000.0
    expect(r.stdout.trim()).toMatch(
      /^\{"ok": true, "host": \{"ksm_merge_across_nodes": 1, "ksm_run": 1, "ksm_sleep_millisecs": 10\.48576, "ksm_pages_to_scan": 400\}, "guests": \{"a": \{"balloon_target": 3800000\.0, "vcpu_quota": 200000\.0\}\}, "excluded_guests": \["z"\], "variables": \{/,
    );
  });
});
