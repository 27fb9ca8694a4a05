import { readFileSync, readdirSync } from 'node:fs';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostCapacity } from '@berth/fit';
import { SimulatorFleet } from '@berth/hypervisor';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig, startExecutor, type RunningSimExecutor } from '@berth/placement-executor';
import { FakeInventory } from '@berth/placement-executor/testing';
import { connectTestNats, createTestDatabase, eventually, infraAvailable, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { DEFAULT_POLICY_DIR, loadTelemetryConfig, startTelemetry, type DecisionRecorded, type RunningTelemetry } from '@berth/telemetry';
import { serviceTlsEnv } from './harness/tls.ts';

const GiB = 1024 ** 3;
const vm = (n: number): string => `00000000-0000-4000-8000-00000000000${n}`;
const [P, G, V1, V2] = [vm(1), vm(2), vm(3), vm(4)];

/**
 * (In-process: both services' composition roots run in this test process, which only test/ may import.)
 * SLA classes on the simulator, through the real executor (its telemetry agent samples and applies
 * controls; power goes through its lifecycle) and the real telemetry service, Postgres and NATS.
 * A host of 8 GiB with 2 GiB held by something else runs a platinum (2 GiB), a gold (2 GiB) and two
 * vapor VMs (1 GiB, priorities 1 and 5), all wanting all their memory. The policy is the default
 * with the critical level at 30% and pressure at 40% free, so ballooning alone cannot help.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('SLA classes at critical pressure (simulator, executor, telemetry)', () => {
  let exDb: TestDatabase;
  let telDb: TestDatabase;
  let nc: NatsConnection;
  let ex: RunningSimExecutor;
  let tel: RunningTelemetry;
  let inv: FakeInventory;
  const prefix = testSubjectPrefix('sla');
  const fleet = new SimulatorFleet();
  fleet.addHost({ hostId: 'h1', cpus: 16, memoryBytes: 8 * GiB });
  const balloon = async (id: string): Promise<number> => (await ex.simulator.driver('sim://h1').memoryStats(id)).actualBytes;
  const state = async (id: string): Promise<string | undefined> => ex.simulator.driver('sim://h1').state(id);

  beforeAll(async () => {
    [exDb, telDb, nc] = await Promise.all([createTestDatabase('sla_ex'), createTestDatabase('sla_tel'), connectTestNats()]);
    ex = await startExecutor(
      loadExecutorConfig({
        ...serviceTlsEnv('placement-executor'),
        DATABASE_URL: exDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        EXECUTOR_GRPC_PORT: '0',
        EXECUTOR_SAMPLE_INTERVAL: '200ms',
        EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '20s', 'poll-frequency': '1h' }),
        EXECUTOR_STOP_TIMEOUT: '1s',
      }),
      createLogger('sla-executor'),
      { simulator: fleet, sweepMillis: 300 },
    );
    tel = await startTelemetry(
      loadTelemetryConfig({
        ...serviceTlsEnv('telemetry'),
        DATABASE_URL: telDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        TELEMETRY_GRPC_PORT: '0',
        TELEMETRY_RESTART_AFTER: '1s',
        TELEMETRY_HISTORY_LENGTH: '1',
        TELEMETRY_LOG_FLUSH: '20ms',
      }),
      createLogger('sla-telemetry'),
      { loop: false },
    );
    const files = readdirSync(DEFAULT_POLICY_DIR)
      .sort()
      .map((name) => ({ name, text: readFileSync(`${DEFAULT_POLICY_DIR}/${name}`, 'utf8') }));
    const params = files.find((f) => f.name === '01-parameters.policy')!;
    await tel.policies.apply('host:h1', [
      ...files.filter((f) => f !== params),
      {
        name: params.name,
        text: params.text
          .replace('(defvar pressure_threshold 0.20)', '(defvar pressure_threshold 0.40)')
          .replace('(defvar pressure_critical_threshold 0.05)', '(defvar pressure_critical_threshold 0.30)'),
      },
    ]);
    inv = new FakeInventory(nc, prefix);
    inv.listen();
    await inv.emit('host-h1', 'HostRegistered', {
      hostId: 'h1',
      hypervisorUri: 'sim://h1',
      capacity: hostCapacity({ hostId: 'h1', cpus: 16, memoryBytes: 8 * GiB }),
    });
    // the executor took the registration (a malformed one is dead-lettered and the host never registered)
    await eventually(async () => (await ex.readModel.hostUri('h1')) !== undefined, 'the executor registers h1', 10_000);
    expect(await ex.readModel.hostUri('h1')).toBe('sim://h1');
    const place = (id: string, gib: number, slaTier: 'platinum' | 'gold' | 'vapor', priority: number) =>
      inv.place(id, 'h1', 'sim://h1', { memoryBytes: gib * GiB }, { memoryBytes: gib * GiB, slaTier, priority });
    await place(P, 2, 'platinum', 0);
    await place(G, 2, 'gold', 0);
    await place(V1, 1, 'vapor', 1);
    await place(V2, 1, 'vapor', 5);
    for (const id of [P, G, V1, V2]) ex.memoryModel.setWorkload(id, 1);
    ex.memoryModel.setHostReserved('h1', 2 * GiB);
  });
  afterAll(async () => {
    await tel?.stop();
    await ex?.stop();
    await nc?.close();
    await Promise.all([exDb?.drop(), telDb?.drop()]);
  });

  /** One policy interval on a fresh sample (the executor samples every 200 ms). */
  const interval = async () => {
    const before = tel.history.get('h1')?.lastAtMillis ?? 0;
    await expect.poll(() => tel.history.get('h1')?.lastAtMillis ?? 0, { timeout: 5000 }).toBeGreaterThan(before);
    return tel.evaluator.evaluateHost('h1');
  };

  it('platinum untouched, gold at its 75% floor, the lower-priority vapor powered off first with the reason, restarted when pressure is gone', async () => {
    await expect
      .poll(async () => Promise.all([P, G, V1, V2].map(state)), { timeout: 20_000 })
      .toEqual(['running', 'running', 'running', 'running']);
    await expect.poll(() => [P, G, V1, V2].every((id) => tel.vms.get(id) !== undefined), { timeout: 10_000 }).toBe(true);
    const powerOffs: string[] = [];
    for (let i = 0; i < 12 && (await balloon(G)) > 1.5 * GiB; i++) {
      const r = await interval();
      for (const e of r.pressure ?? []) if (e.type === 'VmPoweredOffForPressure') powerOffs.push(e.data.vmId);
      // the powered-off VM really stops, through the executor's own lifecycle
      for (const id of powerOffs) await expect.poll(() => state(id), { timeout: 10_000 }).toBe('shut-off');
      expect(await balloon(P)).toBe(2 * GiB);
    }
    expect(await balloon(G)).toBe(1.5 * GiB);
    expect(await balloon(P)).toBe(2 * GiB);
    expect(powerOffs).toEqual([V1, V2]);
    expect((await ex.vms.load(V1)).status).toBe('stopped');

    const events = await tel.queries.ofTypes(['VmPoweredOffForPressure', 'DecisionRecorded']);
    const off = events
      .filter((e) => e.type === 'VmPoweredOffForPressure')
      .map((e) => e.data as { vmId: string; reason: string; priority: number });
    expect(off.map((o) => [o.vmId, o.priority])).toEqual([
      [V1, 1],
      [V2, 5],
    ]);
    expect(off[0]?.reason).toMatch(/critical memory pressure: .* free \(critical below 30\.0%\).*lowest priority \(1\)/);
    // the default policy already respects the floors (balloon_min from the SLA class): no clamp was needed, no platinum balloon sent
    const clamps = events.filter((e) => e.type === 'DecisionRecorded').flatMap((e) => (e.data as DecisionRecorded).clamps);
    expect(clamps.some((c) => c.vmId === G && c.rule === 'gold-75-percent')).toBe(false); // the policy's own balloon_min kept it there
    expect(
      events
        .filter((e) => e.type === 'DecisionRecorded')
        .every((e) => !(e.data as DecisionRecorded).controls.some((c) => c.kind === 'balloon' && c.vmId === P)),
    ).toBe(true);

    // pressure goes away: after TELEMETRY_RESTART_AFTER without it, the higher-priority vapor comes back first
    ex.memoryModel.setHostReserved('h1', 0);
    for (const id of [P, G, V1, V2]) ex.memoryModel.setWorkload(id, 0.4);
    const restarts: string[] = [];
    for (let i = 0; i < 40 && restarts.length < 2; i++) {
      const r = await interval();
      for (const e of r.pressure ?? []) if (e.type === 'VmRestartedAfterPressure') restarts.push(e.data.vmId);
      await new Promise((res) => setTimeout(res, 150));
    }
    expect(restarts).toEqual([V2, V1]);
    await expect.poll(async () => [await state(V1), await state(V2)], { timeout: 10_000 }).toEqual(['running', 'running']);
  });
});
