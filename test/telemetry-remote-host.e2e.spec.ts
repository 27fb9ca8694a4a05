import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LibvirtTelemetry, type HostTelemetry } from '@berth/hypervisor';
import {
  libvirtUsable,
  sshdAvailable,
  startSystemLibvirtd,
  startTestSshd,
  type SystemLibvirtd,
  type TestSshd,
} from '@berth/hypervisor/testing';
import { evaluateInterval, fieldsOf, loadPolicySet, REMOTE_HOST_COLLECTORS, VDSM_HOST_COLLECTORS, type PolicySet } from '@berth/mom-policy';
import { DEFAULT_POLICY_DIR, readPolicyDir } from '@berth/telemetry';

const usable = (): boolean => {
  if (!libvirtUsable()) return false;
  const why =
    sshdAvailable() ??
    (execFileSync('sh', ['-c', 'command -v nc || true'], { encoding: 'utf8' }).trim() === '' ? 'nc is not installed' : undefined);
  if (why === undefined) return true;
  if (process.env['REQUIRE_INFRA'] === '1') throw new Error(`REQUIRE_INFRA=1 but ${why}`);
  return false;
};

const sysfs = (f: string): number => Number(readFileSync(`/sys/kernel/mm/ksm/${f}`, 'utf8').trim());
const meminfo = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB$`, 'm').exec(readFileSync('/proc/meminfo', 'utf8'))?.[1]);
/** The statistics vdsm's host collectors (HostMemory, HostKSM, HostCpu) declare mandatory that a sample lacks. */
const missing = (s: HostTelemetry): string[] => [...fieldsOf(VDSM_HOST_COLLECTORS).mandatory].filter((f) => s.host[f] === undefined).sort();

/**
 * (Real libvirt, real sshd.) A privileged libvirtd (a private system-mode daemon, QEMU driver) as a VM
 * host reached three ways: on this machine (its socket), over TCP (a remote host with no shell on it) and
 * over SSH (`qemu+ssh://`, libvirt's own tunnel through a private sshd). Which of MOM's host statistics
 * the executor's collectors get each way, and whether Berth's default policy runs on them.
 */
describe.skipIf(!usable())('MOM host statistics of a privileged libvirt host, local and remote', () => {
  let sys: SystemLibvirtd;
  let sshd: TestSshd;
  let policy: PolicySet;
  const run = (s: HostTelemetry, hostCollectors?: readonly string[], set = policy) =>
    evaluateInterval(set, {
      host: s.host,
      host_props: {},
      guests: [],
      config: { history_length: 10, ...(hostCollectors ? { host_collectors: hostCollectors } : {}) },
    });

  beforeAll(async () => {
    [sys, sshd] = await Promise.all([startSystemLibvirtd('telemetry'), startTestSshd()]);
    policy = loadPolicySet(await readPolicyDir(DEFAULT_POLICY_DIR));
  });
  afterAll(async () => {
    await sys?.stop();
    await sshd?.stop();
  });

  it('this machine: node-memory-tune answers a privileged daemon (KSM counters and tuning), /proc and /sys give the rest', async () => {
    const t = new LibvirtTelemetry({ uri: sys.uri });
    const s = await t.sample();
    expect(t.capabilities.ksmTune).toBe(true);
    expect(missing(s)).toEqual([]);
    expect(s.host['ksm_run']).toBe(sysfs('run'));
    expect(s.host['swap_total']).toBe(meminfo('SwapTotal'));
    expect(run(s)).toMatchObject({ ok: true });
    // KSM tuning reaches the kernel through libvirt (then goes back to what it was)
    const before = sysfs('pages_to_scan');
    try {
      await t.setKsm({ pagesToScan: before + 7 });
      expect(sysfs('pages_to_scan')).toBe(before + 7);
      expect((await t.sample()).host['ksm_pages_to_scan']).toBe(before + 7);
    } finally {
      await t.setKsm({ pagesToScan: before });
    }
    expect(sysfs('pages_to_scan')).toBe(before);
  });

  it('over TCP: what libvirt reports (memory, KSM counters), never swap, ksm_run or ksmd; with those optional the policy runs', async () => {
    const t = new LibvirtTelemetry({ uri: sys.tcpUri });
    const s = await t.sample();
    expect(t.capabilities.ksmTune).toBe(true);
    // declared, so telemetry evaluates the host with REMOTE_HOST_COLLECTORS
    expect(t.capabilities.hostFiles).toBe(false);
    expect(s.host['mem_available']).toBe(meminfo('MemTotal'));
    expect(s.host['ksm_pages_to_scan']).toBe(sysfs('pages_to_scan'));
    expect(missing(s)).toEqual(['anon_pages', 'ksm_run', 'ksmd_cpu_usage', 'swap_in', 'swap_out', 'swap_total', 'swap_usage']);
    // MOM's rule with vdsm's collectors: a host sample missing a mandatory statistic is not stored; no policy runs.
    expect(run(s)).toMatchObject({ ok: null });
    // With the host-file statistics optional, Berth's default policy runs on what libvirt reports, and a
    // policy that reads an absent one gets None (MOM's optional fields), which `valid` tells.
    const r = run(s, REMOTE_HOST_COLLECTORS);
    expect(r).toMatchObject({ ok: true });
    expect(r.host['ksm_pages_to_scan']).toBeDefined();
    const probe = loadPolicySet([
      { name: '00-probe.policy', text: '(defvar swap_known (valid Host.swap_usage))\n(defvar free_known (valid Host.mem_free))' },
    ]);
    expect(run(s, REMOTE_HOST_COLLECTORS, probe)).toMatchObject({ ok: true, variables: { swap_known: false, free_known: true } });
  });

  it("over TCP with an SSH endpoint for the host's files (EXECUTOR_HOST_FILES_SSH): every statistic is there and the policy runs", async () => {
    const t = new LibvirtTelemetry({
      uri: sys.tcpUri,
      hostFilesSsh: `ssh://root@127.0.0.1:${sshd.port}?keyfile=${sshd.keyfile}&no_verify=1`,
      sshControlDir: sshd.dir,
    });
    const s = await t.sample();
    expect(t.capabilities.hostFiles).toBe(true);
    expect(missing(s)).toEqual([]);
    expect(s.host['swap_total']).toBe(meminfo('SwapTotal'));
    expect(s.host['ksm_run']).toBe(sysfs('run'));
    expect(s.host['mem_available']).toBe(meminfo('MemTotal'));
    expect(run(s)).toMatchObject({ ok: true });
  });

  it("over SSH: the URI's user, port and key read the host's /proc and /sys, so every statistic is there and the policy runs", async () => {
    const socket = join(sys.dir, 'sock', 'libvirt-sock');
    const uri = `qemu+ssh://root@127.0.0.1:${sshd.port}/system?socket=${socket}&keyfile=${sshd.keyfile}&no_verify=1&proxy=netcat`;
    const t = new LibvirtTelemetry({ uri, sshControlDir: sshd.dir });
    const first = await t.sample();
    expect(missing(first)).toEqual([]);
    expect(first.host['swap_total']).toBe(meminfo('SwapTotal'));
    expect(first.host['ksm_run']).toBe(sysfs('run'));
    expect(first.host['ksm_sleep_millisecs']).toBe(sysfs('sleep_millisecs'));
    const second = await t.sample();
    expect(second.host['swap_in']).toBeGreaterThanOrEqual(0);
    expect(second.host['ksmd_cpu_usage']).toBeGreaterThanOrEqual(0);
    expect(run(second)).toMatchObject({ ok: true });
  });
});
