/** ExecutorPort over the placement executor's GetVmRuntime RPC (the watchdog's probe). */
import { executorV1 } from '@berth/contracts';
import { callUnary, createClient, type ClientTls } from '@berth/grpc-kit';
import type { ExecutorAnswer } from '../../domain/migration/commands.ts';
import type { ExecutorPort } from '../../application/ports.ts';

const NOT_FOUND = 5;

export class GrpcExecutor implements ExecutorPort {
  readonly client: InstanceType<typeof executorV1.ExecutorServiceClient>;

  /**
   * `tls`: this service's own identity (mutual TLS), when the deployment has one; `connectTimeoutMillis`:
   * GRPC_CONNECT_TIMEOUT (grpc-kit's bound on a connection attempt, its default when omitted).
   */
  constructor(address: string, deadlineMillis: number, tls?: ClientTls, connectTimeoutMillis?: number) {
    this.client = createClient(executorV1.ExecutorServiceClient, address, {
      deadlineMillis,
      ...(tls && { tls }),
      ...(connectTimeoutMillis !== undefined && { connectTimeoutMillis }),
    });
  }

  async runtime(vmId: string): Promise<ExecutorAnswer> {
    try {
      const r = await callUnary(this.client, 'getVmRuntime', { vmId });
      return { kind: 'vm', status: r.status, hostId: r.hostId, migrationId: r.migrationId, migrationAttempt: r.migrationAttempt };
    } catch (e) {
      if ((e as { code?: number }).code === NOT_FOUND) return { kind: 'unknown-vm' };
      return { kind: 'unreachable', detail: e instanceof Error ? e.message : String(e) };
    }
  }

  close(): void {
    this.client.close();
  }
}
