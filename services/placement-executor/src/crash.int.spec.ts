import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKysely, PostgresEventStore } from '@berth/event-store';
import { domainUuid } from '@berth/hypervisor';
import { libvirtUsable, startTestLibvirtd, type TestLibvirtd } from '@berth/hypervisor/testing';
import { connectTestNats, createTestDatabase, infraAvailable, natsUrl, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { FakeInventory } from './testing/fake-inventory.ts';

const main = fileURLToPath(new URL('./main.ts', import.meta.url));
const virsh = (uri: string, ...args: string[]): string =>
  execFileSync('virsh', ['-q', '-c', uri, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });

const VMS = 24;

/**
 * Crash safety with the real process: the executor is SIGKILLed twice while it provisions,
 * then restarted; every VM must end running, as exactly one domain with its deterministic UUID,
 * provisioned exactly once in the log, with no failure.
 */
describe.skipIf(!(await infraAvailable('postgres', 'nats')) || !libvirtUsable())(
  'placement-executor killed with SIGKILL mid-provisioning',
  () => {
    let db: TestDatabase;
    let nc: NatsConnection;
    let lv: TestLibvirtd;
    let inv: FakeInventory;
    let child: ChildProcess | undefined;
    // Every process started, so none outlives a failed or timed-out run.
    const spawned = new Set<ChildProcess>();
    const prefix = testSubjectPrefix('crash');

    const start = async (): Promise<ChildProcess> => {
      const c = spawn(process.execPath, ['--import', 'tsx', main], {
        env: {
          ...process.env,
          DATABASE_URL: db.url,
          NATS_URL: natsUrl(),
          NATS_PREFIX: prefix,
          EXECUTOR_GRPC_PORT: '0',
          EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '2m', 'poll-frequency': '1h' }),
          EXECUTOR_HOST_CONCURRENCY: '2',
          OTEL_TRACES_EXPORTER: 'none',
          LOG_LEVEL: 'info',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      spawned.add(c);
      let out = '';
      c.stderr?.on('data', (b: Buffer) => (out = (out + b.toString()).slice(-4000)));
      await new Promise<void>((resolve, reject) => {
        c.stdout?.on('data', (b: Buffer) => {
          out = (out + b.toString()).slice(-4000);
          if (out.includes('placement-executor serving')) resolve();
        });
        c.once('exit', (code) => reject(new Error(`executor exited (${code}) before serving:\n${out.slice(-2000)}`)));
      });
      return c;
    };
    const kill = async (c: ChildProcess): Promise<void> => {
      const gone = new Promise((r) => c.once('exit', r));
      c.kill('SIGKILL');
      await gone;
    };

    beforeAll(async () => {
      // Started as a real process (tsx): slow to boot on a loaded machine, hence the long timeouts.
      [db, nc, lv] = await Promise.all([createTestDatabase('executor_crash'), connectTestNats(), startTestLibvirtd('crash')]);
      inv = new FakeInventory(nc, prefix);
      inv.listen();
    });
    afterAll(async () => {
      for (const c of spawned) if (c.exitCode === null && c.signalCode === null) await kill(c);
      await nc?.close();
      await lv?.stop();
      await db?.drop();
    });

    it('loses no VM and creates no duplicate domain', async () => {
      child = await start();
      for (let i = 0; i < VMS; i++) {
        await inv.place(`c${i}`, 'h1', lv.uri, { volumes: [{ diskIndex: 0, pool: 'default-pool', sizeBytes: 1024 ** 3 }] });
      }
      for (const after of [3, 12]) {
        await expect.poll(() => inv.received.length, { timeout: 60_000, interval: 10 }).toBeGreaterThanOrEqual(after * 2);
        await kill(child);
        child = await start();
      }
      // Distinct VMs: a relay killed before its checkpoint publishes again (JetStream drops the copy, core subscribers see it).
      const started = (): number => new Set(inv.received.filter((r) => r.type === 'VmStarted').map((r) => r.data['vmId'])).size;
      await expect.poll(started, { timeout: 120_000 }).toBe(VMS);

      const domains = virsh(lv.uri, 'list', '--all', '--name')
        .split('\n')
        .map((s) => s.trim())
        .filter((s) => s.startsWith('berth-'));
      expect(domains.sort()).toEqual(Array.from({ length: VMS }, (_, i) => `berth-c${i}`).sort());
      for (let i = 0; i < VMS; i++) {
        expect(virsh(lv.uri, 'domstate', `berth-c${i}`).trim()).toBe('running');
        expect(virsh(lv.uri, 'domuuid', `berth-c${i}`).trim()).toBe(domainUuid(`c${i}`));
      }
      const volumes = virsh(lv.uri, 'vol-list', 'default-pool')
        .split('\n')
        .filter((l) => l.includes('berth-c'));
      expect(volumes).toHaveLength(VMS);

      const kysely = createKysely(db.url);
      try {
        const store = new PostgresEventStore(kysely);
        for (let i = 0; i < VMS; i++) {
          const types = (await store.readStream(`vm-c${i}`)).events.map((e) => e.type);
          expect(types.filter((t) => t === 'DomainProvisioningStarted')).toHaveLength(1);
          expect(types.filter((t) => t === 'VmStarted')).toHaveLength(1);
          expect(types).not.toContain('DomainProvisionFailed');
        }
      } finally {
        await kysely.destroy();
      }
    }, 400_000);
  },
);
