/** Helpers shared by this package's integration tests (not exported from the package). */
import { randomUUID } from 'node:crypto';
import type { NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager, type StoredMsg } from '@nats-io/jetstream';
import type { PublishableEvent } from '../publisher.ts';
import { streamName, subjectName } from '../names.ts';

let position = 0;

export function makeEvent(overrides: Partial<PublishableEvent> = {}): PublishableEvent {
  position += 1;
  return {
    id: randomUUID(),
    type: 'VmRequested',
    schemaVersion: 1,
    streamId: `vm-${randomUUID()}`,
    streamPosition: 1,
    globalPosition: String(position),
    occurredAt: new Date().toISOString(),
    data: { n: position },
    ...overrides,
  };
}

/** Polls `probe` until it returns a value other than undefined/false; fails after `timeoutMillis`. */
export async function eventually<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMillis = 20_000,
  what = 'condition',
): Promise<T> {
  const until = Date.now() + timeoutMillis;
  for (;;) {
    const v = await probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The last dead letter of `durable`, if any. */
export async function lastDeadLetter(nc: NatsConnection, prefix: string, durable: string): Promise<StoredMsg | undefined> {
  const jsm = await jetstreamManager(nc);
  try {
    return (
      (await jsm.streams.getMessage(streamName('BERTH_DLQ', prefix), { last_by_subj: subjectName(`berth.dlq.${durable}`, prefix) })) ??
      undefined
    );
  } catch {
    return undefined;
  }
}

/** Deletes every stream (and KV bucket) created under `prefix`. */
export async function deletePrefixed(nc: NatsConnection, prefix: string): Promise<void> {
  const jsm = await jetstreamManager(nc);
  const upper = prefix.toUpperCase();
  for await (const name of jsm.streams.names()) {
    if (name.startsWith(`${upper}_`) || name.startsWith(`KV_${prefix}-`)) await jsm.streams.delete(name);
  }
}
