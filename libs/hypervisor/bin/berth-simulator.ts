/**
 * `berth-simulator`: the simulated hosts as a daemon of their own (settings: src/simulator/daemon.ts).
 *   SIM_LISTEN=unix:/tmp/sim.sock SIM_HOSTS=h1,h2,h3 node --import tsx libs/hypervisor/bin/berth-simulator.ts
 * Prints one JSON line with its URL once it serves; SIGTERM or SIGINT stops it.
 */
import { simulatorDaemonConfig, startSimulatorDaemon } from '../src/simulator/daemon.ts';

try {
  const config = simulatorDaemonConfig();
  const server = await startSimulatorDaemon(config);
  console.log(JSON.stringify({ level: 'info', msg: 'simulator serving', url: server.url, hosts: config.hosts, pid: process.pid }));
  const stop = (): void => void server.close().then(() => process.exit(0));
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
} catch (e) {
  console.error(JSON.stringify({ level: 'fatal', msg: e instanceof Error ? e.message : String(e) }));
  process.exit(1);
}
