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
      if (name.startsWith(`${prefix.toUpperCase()}_`) || name.startsWith(`KV_${prefix}-`)) await jsm.streams.delete(name);
    }
  } finally {
    if (nc === undefined) await conn.close();
  }
}
