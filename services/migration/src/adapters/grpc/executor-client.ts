/** ExecutorPort over the placement executor's GetVmRuntime RPC (the watchdog's probe). */
import { executorV1 } from '@berth/contracts';
import { callUnary, createClient, type ClientOptions } from '@berth/grpc-kit';
import type { ExecutorAnswer } from '../../domain/migration/commands.ts';
import type { ExecutorPort } from '../../application/ports.ts';

const NOT_FOUND = 5;

export class GrpcExecutor implements ExecutorPort {
  readonly client: InstanceType<typeof executorV1.ExecutorServiceClient>;

  /** `options`: the call deadline, this service's own identity (mutual TLS) when the deployment has one, GRPC_CONNECT_TIMEOUT. */
  constructor(address: string, options: ClientOptions) {
    this.client = createClient(executorV1.ExecutorServiceClient, address, options);
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
