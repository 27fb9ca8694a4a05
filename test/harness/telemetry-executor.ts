/**
 * The executor and telemetry in this process on one real libvirt host, each with its own database,
 * and a fake inventory (events on NATS) that registered the host: what the telemetry suites on real
 * QEMU guests share. The caller starts the libvirt daemon and places its VMs with `inventory.place`.
 */
import type { NatsConnection } from '@nats-io/transport-node';
import { hostCapacity } from '@berth/fit';
import { guestKernel } from '@berth/hypervisor/testing';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig, startExecutor, type RunningExecutor } from '@berth/placement-executor';
import { FakeInventory } from '@berth/placement-executor/testing';
import { loadTelemetryConfig, startTelemetry, type RunningTelemetry } from '@berth/telemetry';
import { connectTestNats, createTestDatabase, eventually, testSubjectPrefix, type TestDatabase } from '@berth/testing';
import { serviceTlsEnv } from './tls.ts';

const MiB = 1024 ** 2;

export interface TelemetryExecutor {
  readonly executor: RunningExecutor;
  readonly telemetry: RunningTelemetry;
  readonly inventory: FakeInventory;
  stop(): Promise<void>;
}

/**
 * Starts both services (samples every second, the guest boot of the realm), registers `hostId` at
 * `uri` with one CPU and 1 GiB, and waits until the executor has taken the registration (a malformed
 * one would be dead-lettered and the host never registered).
 */
export async function startTelemetryExecutor(label: string, hostId: string, uri: string): Promise<TelemetryExecutor> {
  const prefix = testSubjectPrefix(label);
  const [exDb, telDb, nc]: [TestDatabase, TestDatabase, NatsConnection] = await Promise.all([
    createTestDatabase(`${label}_ex`),
    createTestDatabase(`${label}_tel`),
    connectTestNats(),
  ]);
  let executor: RunningExecutor | undefined;
  let telemetry: RunningTelemetry | undefined;
  const stop = async () => {
    await telemetry?.stop();
    await executor?.stop();
    await nc.close();
    await Promise.all([exDb.drop(), telDb.drop()]);
  };
  try {
    executor = await startExecutor(
      loadExecutorConfig({
        ...serviceTlsEnv('placement-executor'),
        DATABASE_URL: exDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        EXECUTOR_GRPC_PORT: '0',
        EXECUTOR_SAMPLE_INTERVAL: '1s',
        EXECUTOR_REALM: JSON.stringify({ 'registration-timeout': '60s', 'poll-frequency': '1h', 'guest-boot': guestKernel() }),
        EXECUTOR_STOP_TIMEOUT: '1s',
      }),
      createLogger(`${label}-executor`),
      { sweepMillis: 500 },
    );
    telemetry = await startTelemetry(
      loadTelemetryConfig({
        ...serviceTlsEnv('telemetry'),
        DATABASE_URL: telDb.url,
        NATS_URL: process.env['NATS_URL'],
        NATS_PREFIX: prefix,
        TELEMETRY_GRPC_PORT: '0',
        TELEMETRY_LOG_FLUSH: '20ms',
        TELEMETRY_SAMPLE_INTERVAL: '1s',
      }),
      createLogger(`${label}-telemetry`),
      { loop: false },
    );
    const inventory = new FakeInventory(nc, prefix);
    await inventory.emit(`host-${hostId}`, 'HostRegistered', {
      hostId,
      hypervisorUri: uri,
      capacity: hostCapacity({ hostId, cpus: 1, memoryBytes: 1024 * MiB }),
    });
    const ex = executor;
    await eventually(
      async () => ((await ex.readModel.hostUri(hostId)) === uri ? true : undefined),
      `the executor registers ${hostId} at ${uri}`,
      10_000,
    );
    return { executor: ex, telemetry, inventory, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
