/**
 * Frozen dependencies (issue 16): a hypervisor (a libvirtd test-driver daemon) and NATS (a private
 * nats-server 2.15) stopped with SIGSTOP for longer than every timeout that watches them, then
 * resumed with SIGCONT. The plane carries on by itself: every acknowledged VM ends running, on
 * exactly one host per `virsh list` (a define/start the frozen daemon carried out after the
 * executor had given up and placed the VM elsewhere is removed), one VmRequested and one claim per
 * VM, and every committed event published once. Prints its audit as JSON.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inventoryV1 as pb, modelV1 } from '@berth/contracts';
import { callUnary } from '@berth/grpc-kit';
import { vmIdOfDomain } from '@berth/hypervisor';
import { startTestLibvirtd, type TestLibvirtd } from '@berth/hypervisor/testing';
import { eventually, infraAvailable, PrivateNatsServer } from '@berth/testing';
import { readEventLog } from './harness/event-log.ts';
import { registerLibvirtHost, startStack, type Stack } from './harness/stack.ts';
import { faultAudit, lossFigures, type FaultAudit } from './harness/fault-audit.ts';
import { domainStates } from './harness/virsh.ts';

const GiB = 1024 ** 3;
const FREEZE_HYPERVISOR_MILLIS = 25_000; // > EXECUTOR_CALL_TIMEOUT (5 s) and registration-timeout (10 s)
const FREEZE_NATS_MILLIS = 45_000; // > the NATS client's 3 missed pings (~40 s) and the consumers' heartbeats

describe.skipIf(!(await infraAvailable('postgres', 'nats')))('frozen dependencies', () => {
  let nats: PrivateNatsServer;
  let lv: TestLibvirtd[] = [];
  let stack: Stack;
  const hosts = ['h1', 'h2'];
  /** Figures of the checks below; the audit's own fields (faultAudit) are computed at the end. */
  const audit = { running: 0, unpublished: 0, republished: 0 };
  let report: FaultAudit | undefined;
  /** Freezes injected (SIGSTOP sent). */
  let rounds = 0;
  const composed: string[] = [];

  beforeAll(async () => {
    nats = await PrivateNatsServer.start();
    lv = await Promise.all([startTestLibvirtd(), startTestLibvirtd()]);
    const natsEnv = { NATS_URL: nats.url };
    stack = await startStack('e2e_freeze', {
      inventory: natsEnv,
      scheduler: { ...natsEnv, SCHEDULER_POLICY: 'spread' },
      executor: {
        ...natsEnv,
        EXECUTOR_CALL_TIMEOUT: '5s',
        EXECUTOR_SAMPLE_INTERVAL: '0ms',
        EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '10s', 'poll-frequency': '3s' }),
      },
    });
    for (const [i, h] of hosts.entries()) await registerLibvirtHost(stack.inventory, h, lv[i]!.uri);
  });
  afterAll(async () => {
    console.log(JSON.stringify({ test: 'fault-freeze', ...report, ...audit }));
    await stack?.stop().catch(() => undefined);
    await Promise.all(lv.map((l) => l.stop()));
    await nats?.destroy();
  });

  const compose = async (vmId: string): Promise<void> => {
    await callUnary(stack.inventory, 'composeVm', {
      meta: { commandId: `compose-${vmId}` },
      vmId,
      spec: modelV1.VmSpec.fromPartial({ name: vmId, vcpus: 1, memoryBytes: GiB / 4 }),
    });
    composed.push(vmId);
  };
  const vmsOf = async (ids: readonly string[]) => {
    const all = (await callUnary(stack.inventory, 'listVms', { hostId: '', status: pb.VmStatus.VM_STATUS_UNSPECIFIED })).vms;
    return all.filter((v) => ids.includes(v.vmId));
  };
  /** Every VM running where inventory says, and its domain running on no other host (virsh). */
  const runningOnce = (ids: readonly string[], what: string) =>
    eventually(
      async () => {
        const vms = await vmsOf(ids);
        if (vms.length !== ids.length || vms.some((v) => v.status !== pb.VmStatus.VM_STATUS_RUNNING)) return undefined;
        const states = await Promise.all(lv.map((l) => domainStates(l.uri)));
        for (const vm of vms) {
          const on = hosts.filter((_, i) => [...states[i]!].some(([name, st]) => name.includes(vm.vmId) && st === 'running'));
          if (on.length !== 1 || on[0] !== vm.hostId) return undefined;
        }
        return vms;
      },
      what,
      180_000,
      1000,
    );
  const requestedOnce = async (ids: readonly string[]): Promise<void> => {
    const log = await readEventLog(stack.inventoryDb.url);
    for (const id of ids) {
      // A re-placement after a failed provisioning is a VmRequested of the next attempt; one per attempt.
      const attempts = log.filter((e) => e.type === 'VmRequested' && e.data['vmId'] === id).map((e) => Number(e.data['attempt'] ?? 1));
      const n = attempts.filter((a) => a === 1).length;
      expect(new Set(attempts).size, `attempts of ${id}`).toBe(attempts.length);
      const claims = log.filter((e) => e.type === 'ResourcesClaimed' && (e.data['claim'] as { vmId?: string }).vmId === id).length;
      const released = log.filter((e) => e.type === 'ClaimReleased' && e.data['vmId'] === id).length;
      expect(n, `VmRequested of ${id}`).toBe(1);
      expect(claims - released, `claims held by ${id}`).toBe(1);
    }
  };

  it('a hypervisor frozen past the call and registration timeouts: VMs end running once, on one host each', async () => {
    await compose('warm-1');
    await runningOnce(['warm-1'], 'warm-1 running');
    const pid = Number(readFileSync(join(lv[0]!.dir, 'run', 'libvirtd.pid'), 'utf8').trim());
    process.kill(pid, 'SIGSTOP');
    rounds++;
    const frozen = ['fz-1', 'fz-2', 'fz-3', 'fz-4'];
    try {
      for (const id of frozen) await compose(id);
      await new Promise((r) => setTimeout(r, FREEZE_HYPERVISOR_MILLIS));
    } finally {
      process.kill(pid, 'SIGCONT');
    }
    const vms = await runningOnce(['warm-1', ...frozen], 'every VM running on exactly one host after the thaw');
    audit.running = vms.length;
    // The thawed daemon's late defines are gone from h1 for every VM that runs on h2.
    const h1 = await domainStates(lv[0]!.uri);
    for (const vm of vms.filter((v) => v.hostId === 'h2'))
      expect(
        [...h1.keys()].filter((n) => n.includes(vm.vmId)),
        `${vm.vmId} left on h1`,
      ).toEqual([]);
    await requestedOnce(['warm-1', ...frozen]);
  });

  it('NATS frozen past the client ping and consumer heartbeats: composes made meanwhile are placed after the thaw', async () => {
    const during = ['nf-1', 'nf-2', 'nf-3'];
    const thawed = nats.freeze(FREEZE_NATS_MILLIS);
    rounds++;
    await new Promise((r) => setTimeout(r, 2000));
    for (const id of during) await compose(id);
    await thawed;
    audit.running += (await runningOnce(during, 'VMs composed while NATS was frozen running')).length;
    await requestedOnce(during);
    // Every event inventory committed is in its stream exactly once.
    const log = await readEventLog(stack.inventoryDb.url);
    const nc = await connect({ servers: nats.url });
    try {
      const jsm = await jetstreamManager(nc);
      const name = `${stack.prefix.toUpperCase()}_BERTH_INVENTORY`;
      const info = await jsm.streams.info(name);
      const seen = new Map<string, number>();
      for (let seq = info.state.first_seq; seq <= info.state.last_seq; seq++) {
        const id = (await jsm.streams.getMessage(name, { seq }))?.header?.get('Nats-Msg-Id');
        if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
      }
      audit.unpublished = log.filter((e) => !seen.has(e.eventId)).length;
      audit.republished = [...seen.values()].filter((n) => n > 1).length;
      expect(audit.unpublished).toBe(0);
      expect([...seen.values()].every((n) => n === 1)).toBe(true);
    } finally {
      await nc.close();
    }
  });

  it("the audit, from inventory's log, its read model and both hypervisors: nothing lost, twice, over capacity, leaked or running twice", async () => {
    report = await faultAudit({
      inventoryDbUrl: stack.inventoryDb.url,
      inventory: stack.inventory,
      acknowledged: composed,
      rounds,
      domains: async () => {
        const on = new Map<string, string[]>();
        for (const [i, h] of hosts.entries())
          for (const [name, st] of await domainStates(lv[i]!.uri)) {
            const vmId = vmIdOfDomain(name);
            if (vmId !== undefined && st === 'running') on.set(vmId, [...(on.get(vmId) ?? []), h]);
          }
        return on;
      },
    });
    expect(report.problems).toEqual([]);
    expect(lossFigures(report)).toEqual({ lost: 0, duplicated: 0, overcommitted: 0, leakedClaims: 0, duplicateDomains: 0 });
    expect(report.completed + report.failed).toBe(report.acknowledged);
    expect(report.rounds).toBe(2);
  });
});
