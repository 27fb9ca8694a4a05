import { HypervisorError } from '../errors.ts';
import type { Deadline, LxdClient } from './client.ts';
import { lxdInstanceName, lxdInstancePath } from './instance.ts';

/**
 * An instance's power changes (`PUT /1.0/instances/<name>/state`), and which of LXD's refusals mean
 * the instance is already where it was asked to go.
 */

const ALREADY_RUNNING = /already running/i;
const ALREADY_STOPPED = /already stopped|is not running/i;

async function changeState(client: LxdClient, vmId: string, body: Record<string, unknown>, deadline: Deadline): Promise<void> {
  await client.call('PUT', lxdInstancePath(vmId, '/state'), deadline, body, `${String(body['action'])} ${lxdInstanceName(vmId)}`);
}

/** Starts the instance; one already running is fine. */
export async function startInstance(client: LxdClient, vmId: string, deadline: Deadline): Promise<void> {
  try {
    await changeState(client, vmId, { action: 'start' }, deadline);
  } catch (e) {
    if (e instanceof HypervisorError && ALREADY_RUNNING.test(e.message)) return;
    throw e;
  }
}

/** Restarts the instance, forcibly when the guest ignores the shutdown request for `graceSeconds`. */
export async function restartInstance(client: LxdClient, vmId: string, graceSeconds: number, deadline: Deadline): Promise<void> {
  try {
    await changeState(client, vmId, { action: 'restart', timeout: graceSeconds }, deadline);
  } catch (e) {
    if (!(e instanceof HypervisorError) || e.kind === 'not-found' || ALREADY_STOPPED.test(e.message)) throw e;
    // The guest ignored the shutdown request within its time: restart it forcibly.
    await changeState(client, vmId, { action: 'restart', force: true }, deadline);
  }
}

/**
 * Asks the guest to shut down within `seconds`: `graceful` when it did, `already-stopped` when there
 * was nothing to stop, `not-in-time` when it did not go (the caller forces it).
 */
export async function shutDownInstance(
  client: LxdClient,
  vmId: string,
  seconds: number,
  deadline: Deadline,
): Promise<'graceful' | 'already-stopped' | 'not-in-time'> {
  try {
    await changeState(client, vmId, { action: 'stop', timeout: seconds, force: false }, deadline);
    return 'graceful';
  } catch (e) {
    if (!(e instanceof HypervisorError)) throw e;
    if (e.kind === 'not-found' || ALREADY_STOPPED.test(e.message)) return 'already-stopped';
    if (e.kind === 'permanent' && !/shut(?:ting)? ?down|timeout|timed out/i.test(e.message)) throw e;
    return 'not-in-time';
  }
}

/** Stops the instance at once; one already stopped or gone is fine. */
export async function forceStopInstance(client: LxdClient, vmId: string, deadline: Deadline): Promise<void> {
  try {
    await changeState(client, vmId, { action: 'stop', force: true }, deadline);
  } catch (e) {
    if (e instanceof HypervisorError && (e.kind === 'not-found' || ALREADY_STOPPED.test(e.message))) return;
    throw e;
  }
}
