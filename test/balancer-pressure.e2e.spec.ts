import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrationV1, modelV1 } from '@berth/contracts';
import { runCli } from '@berth/cli';
import { callUnary } from '@berth/grpc-kit';
import { createLogger } from '@berth/observability';
import { createTestDatabase, eventually, infraAvailable, type TestDatabase } from '@berth/testing';
import { loadTelemetryConfig, startTelemetry, type RunningTelemetry } from '@berth/telemetry';
import { startSimulatorStack, type SimulatorStack } from './harness/simulator-stack.ts';
import { serviceTlsEnv } from './harness/tls.ts';

const GiB = 1024 ** 3;
const HS = modelV1.HostState;

/**
 * The balancer's pressure trigger on measured load, end to end on the simulator: inventory and the
 * scheduler as processes; the executor (its telemetry agent samples every 300 ms), telemetry (writes
 * `berth-host-usage`) and the migration service (reads it) in this process; real Postgres and NATS.
 * h1 runs three VMs; memory held outside the guests (the simulator's host reserve) puts h1 above the
 * 90% pressure threshold. The pool's mode is off: only the pressure trigger moves VMs, one per
 * interval, onto h2 (kept below the 80% clear threshold), until h1 leaves pressure; then nothing
 * moves, and `berth balance --now` on the pool is refused (mode off, no pressure).
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')))('balancer pressure trigger on measured load (simulator)', () => {
  let s: SimulatorStack;
  let tel: RunningTelemetry;
  let telDb: TestDatabase;
  beforeAll(async () => {
    s = await startSimulatorStack('balpress', {
      hosts: ['h1', 'h2'],
      executorEnv: { EXECUTOR_SAMPLE_INTERVAL: '300ms' },
      migrationEnv: { MIGRATION_BALANCER_TICK: '300ms', MIGRATION_USAGE_FRESH: '3s' },
    });
    telDb = await createTestDatabase('balpress_tel');
    // The policy loop is off: this test is about the measured usage, not ballooning.
    tel = await startTelemetry(
      loadTelemetryConfig({
        ...serviceTlsEnv('telemetry'),
        DATABASE_URL: telDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: s.prefix,
        TELEMETRY_GRPC_PORT: '0',
      }),
      createLogger('balpress-telemetry'),
      { loop: false },
    );
  });
  afterAll(async () => {
    await tel?.stop();
    await s?.stop();
    await telDb?.drop();
  });

  const berth = async (...argv: string[]) => {
    const out: string[] = [];
    const err: string[] = [];
    const env = { ...process.env, BERTH_INVENTORY_ADDR: s.inventory.address, BERTH_MIGRATION_ADDR: `127.0.0.1:${s.migration.port}` };
    const code = await runCli(argv, { env, io: { stdout: (t) => out.push(t), stderr: (t) => err.push(t) } });
    return { code, out: out.join('\n'), err: err.join('\n') };
  };
  const balancerMigrations = async () =>
    (await callUnary(s.client, 'listMigrations', migrationV1.ListMigrationsRequest.fromPartial({ limit: 100 }))).migrations;

  it('moves VMs off the host under pressure (mode off), one per interval, never above the clear threshold, and stops when it clears', async () => {
    await s.setHostState('h2', HS.HOST_STATE_NO_SCHEDULING);
    for (const vmId of ['p1', 'p2', 'p3'])
      expect(
        (
          await s.compose(vmId, {
            memoryBytes: 4 * GiB,
            migrationMode: modelV1.MigrationMode.MIGRATION_MODE_MANUAL_AND_AUTOMATIC,
          })
        ).hostId,
      ).toBe('h1');
    await s.setHostState('h2', HS.HOST_STATE_ENABLED);

    const set = await berth(
      'balance',
      'policy',
      '--mode',
      'off',
      '--pressure',
      '90',
      '--pressure-clear',
      '80',
      '--window',
      '1',
      '--interval',
      '3',
    );
    expect(set.code, set.err).toBe(0);
    expect(set.out).toContain('pressure trigger above 90% measured memory, clear below 80%');
    // Nothing is under pressure yet: a run now is refused, and no migration starts.
    const refused = await berth('balance', '--now');
    expect(refused.code).not.toBe(0);
    expect(refused.err).toMatch(/balancing is off for pool default \(no host under pressure\)/);

    // 58 GiB of h1's 64 held outside the guests: h1 is above 90% as telemetry measures it.
    s.executor.memoryModel.setHostReserved('h1', 58 * GiB);
    const first = await eventually(
      async () => (await balancerMigrations()).find((m) => m.vmId.startsWith('p')),
      'a pressure move off h1',
      60_000,
    );
    expect(first.sourceHostId).toBe('h1');
    expect(first.requestedDestination).toBe('h2');
    expect(first.trigger).toBe(migrationV1.MigrationTrigger.MIGRATION_TRIGGER_BALANCER);
    await eventually(
      async () => ((await s.domainOn(first.vmId)).join() === 'h2' ? true : undefined),
      `${first.vmId} running on h2`,
      60_000,
    );

    // Relieved: h1 falls below the clear threshold, and no further move comes.
    s.executor.memoryModel.setHostReserved('h1', 0);
    let lastExplain = '';
    // A run now (the dry run shows it as a recorded run would) reads the measured load: h1 is no longer under
    // pressure, and the pool's mode is off. (Runs that move nothing while the mode is off are not recorded:
    // `berth balance explain` still shows the pressure run.)
    const explain = await eventually(
      async () => {
        const r = await berth('balance', '--dry-run', '--json');
        lastExplain = r.code === 0 ? r.out : r.err;
        if (r.code !== 0) return undefined;
        const e = (
          JSON.parse(r.out) as {
            dryRun: {
              run: {
                source: string;
                trigger: string;
                summary: string;
                hosts: { hostId: string; memoryPercent: number; measured: boolean }[];
              };
            };
          }
        ).dryRun.run;
        const h1 = e.hosts.find((h) => h.hostId === 'h1')!;
        // `interval`: the service's pressure state cleared too (at its next tick after the measurement fell; until
        // then a dry run is still a pressure pass).
        return e.source === 'measured' && h1.measured && h1.memoryPercent < 80 && e.trigger === 'interval' ? e : undefined;
      },
      'the dry run to show h1 relieved (measured)',
      30_000,
    ).catch((e: unknown) => {
      // What the run last showed says why it did not get there.
      throw new Error(`${(e as Error).message}; the last answer: ${lastExplain}`, { cause: e });
    });
    expect(explain.summary).toBe('balancing is off for pool default');
    const before = (await balancerMigrations()).length;
    await new Promise((r) => setTimeout(r, 4000));
    expect((await balancerMigrations()).length).toBe(before);
    expect((await s.domainOn('p1')).length + (await s.domainOn('p2')).length + (await s.domainOn('p3')).length).toBe(3);
  });
});
