import { mkdtempSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli, type CliDeps } from '../cli.ts';

const HOST =
  '{"mem_available": 16000000, "mem_unused": 0, "mem_free": 8000000, "swap_in": 0, "swap_out": 0, "anon_pages": 0, "swap_total": 0, "swap_usage": 0, "ksm_full_scans": 0, "ksm_pages_sharing": 0, "ksm_pages_unshared": 0, "ksm_run": 0, "ksm_pages_shared": 0, "ksm_pages_to_scan": 100, "ksm_pages_volatile": 0, "ksm_sleep_millisecs": 10, "ksm_merge_across_nodes": 1, "ksm_shareable": 0, "ksmd_cpu_usage": 0, "cpu_count": 8}';

function cli(files: Record<string, string>, stdin: string) {
  const out: string[] = [];
  const err: string[] = [];
  const deps: CliDeps = {
    env: {},
    io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) },
    // Backends are created lazily; policy eval must never call one.
    connect: (endpoints) => {
      const refuse = (): never => {
        throw new Error('policy eval must not reach a service');
      };
      return { endpoints, inventory: refuse, scheduler: refuse, migration: refuse, close: () => undefined };
    },
    readFile: async (path) => {
      const text = files[path];
      if (text !== undefined) return text;
      return readFile(path, 'utf8');
    },
    readStdin: async () => stdin,
  };
  return { deps, out, err };
}

describe('berth policy eval', () => {
  it("prints one JSON object with MOM's int/float distinction; the files order by name", async () => {
    const { deps, out } = cli(
      { 'b/10-main.policy': '(Host.Control "ksm_run" (/ 10 2)) (set x (+ x 1))', 'a/00-defs.policy': '(defvar x 1)' },
      `{"host": ${HOST}, "guests": [{"name": "vm1", "vcpu_quota": -1, "vcpu_period": 100000, "vcpu_user_limit": 100, "vcpu_count": 1}, {"name": "vm2"}]}`,
    );
    expect(await runCli(['policy', 'eval', '--policy', 'b/10-main.policy', 'a/00-defs.policy'], deps)).toBe(0);
    expect(out).toEqual([
      '{"ok": true, "host": {"ksm_run": 5.0}, "guests": {"vm1": {}}, "excluded_guests": ["vm2"], "variables": {"x": 2}}',
    ]);
  });

  it('a policy error exits 1 with ok:false; bad JSON and parse errors exit 2 naming the place', async () => {
    const failing = cli({ 'p.policy': '(/ 1 0)' }, `{"host": ${HOST}, "guests": []}`);
    expect(await runCli(['policy', 'eval', '--policy', 'p.policy'], failing.deps)).toBe(1);
    expect(JSON.parse(failing.out[0]!)).toMatchObject({ ok: false, error: 'ZeroDivisionError: division by zero' });

    const badJson = cli({ 'p.policy': '1' }, '{"host": ');
    expect(await runCli(['policy', 'eval', '--policy', 'p.policy'], badJson.deps)).toBe(2);
    expect(badJson.err.join('\n')).toMatch(/stdin: JSON/);

    const badPolicy = cli({ 'p.policy': '\n(defvar x' }, '{}');
    expect(await runCli(['policy', 'eval', '--policy', 'p.policy'], badPolicy.deps)).toBe(2);
    expect(badPolicy.err.join('\n')).toMatch(/--policy: p\.policy:2: /);

    const none = cli({}, '{}');
    expect(await runCli(['policy', 'eval'], none.deps)).toBe(2);
  });

  it("a directory stands for its *.policy files (MOM's policy-dir); the input shape is checked", async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-policy-'));
    writeFileSync(join(dir, '01-b.policy'), '(set y (* y 3))');
    writeFileSync(join(dir, '00-a.policy'), '(defvar y 2)');
    writeFileSync(join(dir, 'notes.txt'), '(this is not read');
    writeFileSync(join(dir, '.hidden.policy'), '(neither');
    const { deps, out } = cli({}, `{"host": [${HOST}, ${HOST}], "guests": [], "config": {"history_length": 1}}`);
    expect(await runCli(['policy', 'eval', '--policy', dir], deps)).toBe(0);
    expect(JSON.parse(out[0]!)).toMatchObject({ ok: true, variables: { y: 6 } });

    const bad = cli({}, '{"host": {}, "guests": "none"}');
    expect(await runCli(['policy', 'eval', '--policy', dir], bad.deps)).toBe(1);
    expect(JSON.parse(bad.out[0]!)).toMatchObject({ ok: false, error: 'input: guests must be an array' });
  });
});
