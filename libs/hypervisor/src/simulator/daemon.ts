import { parseBytes, parseDuration } from '@berth/config';
import { serveSimulator, type SimulatorServer } from './remote-server.ts';
import { SimulatorFleet } from './simulator.ts';

/**
 * The simulator daemon (`berth-simulator`): a SimulatorFleet in a process of its own, served on a
 * unix socket or a TCP port, so the simulated hosts outlive the executors that drive them (point an
 * executor at it with EXECUTOR_SIMULATOR_URL). Settings from the environment:
 *
 *   SIM_LISTEN                 unix:/path/to.sock or http://127.0.0.1:PORT (default unix:.berth/simulator.sock)
 *   SIM_HOSTS                  hosts to make at start, comma-separated ids (default none)
 *   SIM_HOST_CPUS / SIM_HOST_MEMORY   their size (default 16 / 64 GiB)
 *   SIM_AUTO_HOSTS             on: a host first addressed comes into being at that size (default on)
 *   SIM_MIGRATION_BANDWIDTH    bytes per second of a live migration that names none (default 1 GiB)
 *   SIM_TIME_SCALE             simulated seconds per real second (default 1)
 *   SIM_PROGRESS_INTERVAL      default progress interval of a migration (default 1s)
 *   SIM_LATENCY                added latency of define/start/stop/destroy/undefine (default 0ms)
 */
export interface SimulatorDaemonConfig {
  readonly listen: string;
  readonly hosts: readonly string[];
  readonly hostCpus: number;
  readonly hostMemoryBytes: number;
  readonly autoHosts: boolean;
  readonly bandwidthBytesPerSecond: number;
  readonly timeScale: number;
  readonly progressIntervalMillis: number;
  readonly latencyMillis: number;
}

/** Reads the daemon's settings; every bad one is named at once. */
export function simulatorDaemonConfig(env: Readonly<Record<string, string | undefined>> = process.env): SimulatorDaemonConfig {
  const problems: string[] = [];
  const read = <T>(name: string, fallback: string, parse: (s: string) => T): T => {
    const raw = env[name] === undefined || env[name] === '' ? fallback : env[name];
    try {
      return parse(raw);
    } catch (e) {
      problems.push(`${name}: ${e instanceof Error ? e.message : String(e)}`);
      return undefined as T;
    }
  };
  const positive = (n: number): number => {
    if (!Number.isFinite(n) || n <= 0) throw new Error('must be a positive number');
    return n;
  };
  const config: SimulatorDaemonConfig = {
    listen: read('SIM_LISTEN', 'unix:.berth/simulator.sock', (s) => {
      if (!/^unix:.+/.test(s) && !/^http:\/\/[^/]+:\d+\/?$/.test(s)) throw new Error('must be unix:/path or http://host:port');
      return s;
    }),
    hosts: read('SIM_HOSTS', '', (s) => {
      const ids = s
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      const bad = ids.find((h) => !/^[A-Za-z0-9._-]+$/.test(h));
      if (bad !== undefined) throw new Error(`${bad}: a host id is letters, digits, '.', '_' and '-'`);
      return ids;
    }),
    hostCpus: read('SIM_HOST_CPUS', '16', (s) => {
      const n = Number(s);
      if (!Number.isInteger(n) || n < 1) throw new Error('must be a whole number >= 1');
      return n;
    }),
    hostMemoryBytes: read('SIM_HOST_MEMORY', '64 GiB', (s) => positive(parseBytes(s))),
    autoHosts: read('SIM_AUTO_HOSTS', 'on', (s) => {
      if (s !== 'on' && s !== 'off') throw new Error('must be on or off');
      return s === 'on';
    }),
    bandwidthBytesPerSecond: read('SIM_MIGRATION_BANDWIDTH', '1 GiB', (s) => positive(parseBytes(s))),
    timeScale: read('SIM_TIME_SCALE', '1', (s) => positive(Number(s))),
    progressIntervalMillis: read('SIM_PROGRESS_INTERVAL', '1s', (s) => positive(parseDuration(s))),
    latencyMillis: read('SIM_LATENCY', '0ms', (s) => parseDuration(s)),
  };
  if (problems.length > 0) throw new Error(`invalid simulator settings: ${problems.join('; ')}`);
  return config;
}

/** Builds the fleet the settings describe and serves it. */
export async function startSimulatorDaemon(config: SimulatorDaemonConfig): Promise<SimulatorServer> {
  const size = { cpus: config.hostCpus, memoryBytes: config.hostMemoryBytes };
  const ms = config.latencyMillis;
  const fleet = new SimulatorFleet({
    ...(ms > 0 && { latencyMillis: { define: ms, start: ms, stop: ms, destroy: ms, undefine: ms } }),
    ...(config.autoHosts && { autoHost: size }),
    migration: {
      defaultBandwidthBytesPerSecond: config.bandwidthBytesPerSecond,
      timeScale: config.timeScale,
      progressIntervalMillis: config.progressIntervalMillis,
    },
  });
  for (const hostId of config.hosts) fleet.addHost({ hostId, ...size });
  return serveSimulator(fleet, { listen: config.listen });
}
