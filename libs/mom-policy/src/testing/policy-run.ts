import { evaluateInterval, type EvalInput, type EvalOutput, type InputSample } from '../interval.ts';
import { RAW, valueJson, type RawOutput } from '../output.ts';
import { loadPolicySet } from '../policy-set.ts';

/** A complete host sample under vdsm's collectors (every mandatory field), with overrides. */
export function hostSample(over: Record<string, unknown> = {}): InputSample {
  return {
    mem_available: 16_000_000,
    mem_unused: 4_000_000,
    mem_free: 8_000_000,
    swap_in: 0,
    swap_out: 0,
    anon_pages: 1_000_000,
    swap_total: 0,
    swap_usage: 0,
    ksm_full_scans: 0,
    ksm_pages_sharing: 0,
    ksm_pages_unshared: 0,
    ksm_run: 0,
    ksm_pages_shared: 0,
    ksm_pages_to_scan: 100,
    ksm_pages_volatile: 0,
    ksm_sleep_millisecs: 20,
    ksm_merge_across_nodes: 1,
    ksm_shareable: 0,
    ksmd_cpu_usage: 0,
    cpu_count: 8,
    ...over,
  };
}

/** The mandatory guest statistics under vdsm's collectors (GuestCpuTune's). */
export function guestCpu(over: Record<string, unknown> = {}): Record<string, unknown> {
  return { vcpu_quota: -1, vcpu_period: 100_000, vcpu_user_limit: 100, vcpu_count: 2, ...over };
}

/** Evaluates one policy text against a default host and the given guests. */
export function run(text: string, input: Partial<EvalInput> = {}): EvalOutput {
  const set = loadPolicySet([{ name: 'test.policy', text }]);
  return evaluateInterval(set, { host: hostSample(), guests: [], ...input });
}

/** The value of global `x` after running the text, as toJson prints it. */
export function valueOf(text: string, name = 'x'): string {
  const out = run(text);
  if (out.ok !== true) throw new Error(`policy failed: ${out.error}`);
  const raw = (out as EvalOutput & { [RAW]?: RawOutput })[RAW]!;
  const v = raw.variables.get(name);
  if (v === undefined) throw new Error(`no global ${name}`);
  return valueJson(v);
}
