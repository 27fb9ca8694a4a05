import { jetstreamManager } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { connectTestNats } from './infra.ts';

/**
 * Deletes the JetStream streams (with their consumers) and KV buckets made under a test's subject
 * prefix (`testSubjectPrefix`), over `nc` or, without one, a connection of its own to NATS_URL.
 */
export async function deletePrefixedStreams(prefix: string, nc?: NatsConnection): Promise<void> {
  const conn = nc ?? (await connectTestNats());
  try {
    const jsm = await jetstreamManager(conn);
    for await (const name of jsm.streams.names()) {
      if (unprefixedStreamName(prefix, name) !== undefined) await jsm.streams.delete(name);
    }
  } finally {
    if (nc === undefined) await conn.close();
  }
}

/**
 * The last sequence of every stream made under `prefix`, by its name without the prefix
 * (`BERTH_INVENTORY`, `KV_berth-host-snapshots`): the messages written between two readings are the
 * difference, which is what a benchmark counts JetStream writes by.
 */
export async function prefixedStreamSequences(prefix: string, nc: NatsConnection): Promise<Map<string, number>> {
  const jsm = await jetstreamManager(nc);
  const out = new Map<string, number>();
  for await (const info of jsm.streams.list()) {
    const name = unprefixedStreamName(prefix, info.config.name);
    if (name !== undefined) out.set(name, info.state.last_seq);
  }
  return out;
}

/** A stream's name without the test prefix, or undefined when it is not one of the prefix's. */
function unprefixedStreamName(prefix: string, name: string): string | undefined {
  if (name.startsWith(`${prefix.toUpperCase()}_`)) return name.slice(prefix.length + 1);
  if (name.startsWith(`KV_${prefix}-`)) return `KV_${name.slice(`KV_${prefix}-`.length)}`;
  return undefined;
}
