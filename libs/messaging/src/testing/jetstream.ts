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
