import type WebSocket from 'ws';
import type { EventSubscription, LifecycleEvent, LifecycleKind } from '../driver.ts';
import type { LxdClient } from './client.ts';

/** LXD's lifecycle events (`/1.0/events?type=lifecycle`) as the driver's: the mapping, and a subscription that survives reconnects. */

/** Detail of the domain-less event sent after the events websocket reconnected. */
export const RECONNECTED = 'lxd-events-reconnected';

export interface LxdEventMessage {
  readonly type?: string;
  readonly metadata?: { readonly action?: string; readonly source?: string; readonly context?: Record<string, unknown> };
}

const ACTIONS: Record<string, LifecycleKind> = {
  'instance-created': 'defined',
  'instance-updated': 'defined',
  'instance-deleted': 'undefined',
  'instance-started': 'started',
  'instance-restarted': 'started',
  'instance-resumed': 'resumed',
  'instance-paused': 'suspended',
  'instance-stopped': 'stopped',
  'instance-shutdown': 'shutdown',
};

/**
 * A lifecycle event from `/1.0/events?type=lifecycle`, or undefined for events that are not about
 * instances. The VM id comes from the instance name (`vmIdOf` resolves shortened names).
 */
export function lifecycleFromLxd(msg: LxdEventMessage, vmIdOf: (name: string) => string | undefined): LifecycleEvent | undefined {
  if (msg.type !== 'lifecycle') return undefined;
  const action = msg.metadata?.action ?? '';
  if (
    !action.startsWith('instance-') ||
    action.startsWith('instance-snapshot') ||
    action.startsWith('instance-log') ||
    action.startsWith('instance-file')
  )
    return undefined;
  const source = msg.metadata?.source ?? '';
  const m = /^\/1\.0\/instances\/([^/?]+)/.exec(source);
  if (!m?.[1]) return undefined;
  const name = decodeURIComponent(m[1]);
  const vmId = vmIdOf(name);
  return { domain: name, kind: ACTIONS[action] ?? 'other', detail: action, ...(vmId !== undefined ? { vmId } : {}) };
}

/**
 * Subscribes to lifecycle events. When the websocket closes (daemon restart, network), it reconnects
 * with backoff (from `reconnectMillis`, doubling up to 5 s) until the subscription is closed; events
 * in the gap are not replayed (the executor's reconciler covers them): an event with no domain, kind
 * `other` and detail `lxd-events-reconnected`, marks the reconnection. `onClose` runs when the
 * subscription is closed.
 */
export async function subscribeLifecycle(
  client: LxdClient,
  reconnectMillis: number,
  vmIdOf: (name: string) => string | undefined,
  onEvent: (e: LifecycleEvent) => void,
  onClose: () => void,
): Promise<EventSubscription> {
  let closed = false;
  let ws: WebSocket | undefined;
  let timer: NodeJS.Timeout | undefined;
  let delay = reconnectMillis;
  const onMessage = (data: string): void => {
    let msg: LxdEventMessage;
    try {
      msg = JSON.parse(data) as LxdEventMessage;
    } catch {
      return;
    }
    const e = lifecycleFromLxd(msg, vmIdOf);
    if (e) onEvent(e);
  };
  const attach = (sock: WebSocket): void => {
    ws = sock;
    delay = reconnectMillis;
    sock.on('error', () => undefined);
    sock.once('close', () => {
      if (!closed) schedule();
    });
  };
  const schedule = (): void => {
    timer = setTimeout(() => {
      timer = undefined;
      if (closed) return;
      client.openEvents('lifecycle', onMessage).then(
        (sock) => {
          if (closed) return sock.terminate();
          attach(sock);
          // Events of the gap are lost: say so, with no domain, so a listener can re-check everything.
          onEvent({ domain: '', kind: 'other', detail: RECONNECTED });
        },
        () => {
          delay = Math.min(delay * 2, 5000);
          schedule();
        },
      );
    }, delay);
  };
  attach(await client.openEvents('lifecycle', onMessage));
  return {
    close: async () => {
      closed = true;
      onClose();
      if (timer) clearTimeout(timer);
      const sock = ws;
      if (sock && sock.readyState !== sock.CLOSED) {
        const done = new Promise<void>((r) => sock.once('close', () => r()));
        sock.terminate();
        await done;
      }
    },
  };
}
