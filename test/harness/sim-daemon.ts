/**
 * The simulator daemon (`libs/hypervisor/bin/berth-simulator.ts`) as a process of the test: the
 * simulated hosts live there, so executors started as processes (EXECUTOR_SIMULATOR_URL = `url`)
 * can be SIGKILLed and started again while the hosts, their domains and their migration jobs go on,
 * as a real hypervisor's do. `sim` is the test's own client (the hosts' state, fault injection).
 *
 *   const d = await startSimDaemon('migcrash', { SIM_HOSTS: 'h1,h2,h3', SIM_MIGRATION_BANDWIDTH: '1 GiB' });
 *   await startService('placement-executor', { ..., EXECUTOR_SIMULATOR_URL: d.url });
 *   await d.sim.driver('sim://h1').state('vm-1');
 *   await d.stop();
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RemoteSimulator } from '@berth/hypervisor';
import { repoRoot } from './service.ts';

export interface SimDaemon {
  /** `unix:/…/simulator.sock` */
  readonly url: string;
  readonly pid: number;
  readonly sim: RemoteSimulator;
  logs(): readonly string[];
  stop(): Promise<void>;
}

export async function startSimDaemon(
  label: string,
  env: Readonly<Record<string, string>> = {},
  timeoutMillis = 60_000,
): Promise<SimDaemon> {
  const dir = mkdtempSync(join(tmpdir(), `berth-sim-${label}-`));
  const url = `unix:${join(dir, 'simulator.sock')}`;
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'libs/hypervisor/bin/berth-simulator.ts')], {
    cwd: repoRoot,
    env: { ...process.env, SIM_LISTEN: url, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let serving: () => void = () => {};
  const up = new Promise<void>((r) => (serving = r));
  for (const s of [child.stdout, child.stderr]) {
    let buf = '';
    s.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const l = buf.slice(0, i);
        buf = buf.slice(i + 1);
        lines.push(l);
        if (process.env['E2E_VERBOSE'] === '1') process.stderr.write(`[simulator-${label}] ${l}\n`);
        if (l.includes('"simulator serving"')) serving();
      }
    });
  }
  const exited = new Promise<number | string>((r) => child.once('exit', (code, sig) => r(code ?? sig ?? 'unknown')));
  const timer = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), timeoutMillis).unref());
  const first = await Promise.race([up.then(() => 'up' as const), exited.then(() => 'exited' as const), timer]);
  if (first !== 'up') {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`the simulator daemon ${first === 'exited' ? 'exited' : 'did not serve in time'}:\n${lines.slice(-20).join('\n')}`);
  }
  const sim = new RemoteSimulator(url);
  return {
    url,
    pid: child.pid ?? -1,
    sim,
    logs: () => lines,
    async stop() {
      sim.close();
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
