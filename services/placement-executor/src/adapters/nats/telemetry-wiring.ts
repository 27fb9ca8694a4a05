import type { NatsConnection } from '@nats-io/transport-node';
import {
  LibvirtTelemetry,
  SimMemoryModel,
  type HostTelemetrySource,
  type HypervisorDriver,
  type RemoteSimulator,
  type SimulatorFleet,
} from '@berth/hypervisor';
import type { Logger } from '@berth/observability';
import type { Provisioner } from '../../application/provisioner.ts';
import type { Vms } from '../../application/vms.ts';
import type { ExecutorConfig } from '../../config.ts';
import { TelemetryAgent } from './telemetry-agent.ts';

export interface TelemetryWiring {
  readonly nc: NatsConnection;
  readonly prefix?: string;
  /** The simulator behind sim:// hosts, if this executor has one. */
  readonly simulator: SimulatorFleet | undefined;
  /** A simulator daemon behind sim:// hosts (its memory model answers their telemetry). */
  readonly remoteSimulator?: RemoteSimulator | undefined;
  readonly hosts: () => Promise<ReadonlyMap<string, string>>;
  readonly driverFor: (uri: string) => HypervisorDriver;
  readonly vms: Vms;
  readonly provisioner: Provisioner;
  readonly config: Readonly<ExecutorConfig>;
  readonly logger: Logger;
}

/**
 * Starts the telemetry agent: collectors per host URI (the simulator's memory model for sim://,
 * virsh otherwise) and power controls through the executor's own command path, so the log, the
 * reconciler and inventory all see a telemetry power-off as a stop like any other.
 */
export function startTelemetryAgent(w: TelemetryWiring): {
  stop(): Promise<void>;
  readonly model: SimMemoryModel | undefined;
  readonly agent: TelemetryAgent;
} {
  const model = w.simulator && new SimMemoryModel(w.simulator);
  const sources = new Map<string, HostTelemetrySource>();
  const telemetryFor = (uri: string): HostTelemetrySource => {
    let s = sources.get(uri);
    if (!s) {
      const sim = /^sim:\/\/([^/?#]+)/.exec(uri)?.[1];
      if (sim !== undefined && !model && !w.remoteSimulator)
        throw new Error(`${uri}: this executor runs no simulator (EXECUTOR_SIMULATOR=off)`);
      const hostFilesSsh = hostFilesEndpoint(uri, w.config.EXECUTOR_HOST_FILES_SSH);
      s =
        sim !== undefined && model
          ? model.source(sim)
          : sim !== undefined && w.remoteSimulator
            ? w.remoteSimulator.telemetry(sim)
            : new LibvirtTelemetry({
                uri,
                callTimeoutMillis: w.config.EXECUTOR_CALL_TIMEOUT,
                ...(hostFilesSsh !== undefined ? { hostFilesSsh } : {}),
              });
      sources.set(uri, s);
    }
    return s;
  };
  const agent = new TelemetryAgent({
    nc: w.nc,
    ...(w.prefix !== undefined ? { prefix: w.prefix } : {}),
    hosts: w.hosts,
    driverFor: w.driverFor,
    telemetryFor,
    intervalMillis: w.config.EXECUTOR_SAMPLE_INTERVAL,
    logger: w.logger,
    power: async (vmId, action, _reason, commandId) => {
      const s = await w.vms.load(vmId);
      if (s.status === 'unknown') throw new Error(`vm ${vmId} is unknown to the executor`);
      await w.vms.execute(
        vmId,
        {
          type: 'RequestOperation',
          location: s.location,
          operation: action === 'off' ? 'stop' : 'start',
          force: true,
          requestId: commandId,
        },
        commandId,
      );
      w.provisioner.kick(vmId);
    },
  });
  agent.start(w.config.EXECUTOR_SAMPLE_INTERVAL > 0);
  return {
    model,
    agent,
    async stop() {
      await agent.stop();
      await Promise.all([...sources.values()].map((s) => s.close()));
    },
  };
}

/**
 * The SSH endpoint for a host's own files when its libvirt is reached over TCP or TLS (a URI with a host
 * and no SSH transport): `template` with `{host}` replaced by the URI's host; otherwise undefined.
 */
export function hostFilesEndpoint(uri: string, template: string | undefined): string | undefined {
  if (template === undefined) return undefined;
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return undefined;
  }
  if (u.hostname === '' || !/^[a-z]+(\+(tcp|tls))?:$/.test(u.protocol) || u.protocol === 'sim:') return undefined;
  return template.replaceAll('{host}', u.hostname);
}
