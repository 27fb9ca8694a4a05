/** Removes what the services created on the shared NATS server under one test prefix. */
import { jetstreamManager } from '@nats-io/jetstream';
import { connectTestNats } from '@berth/testing';

/** Deletes the JetStream streams (and with them their consumers) and KV buckets of `prefix`. */
export async function deletePrefixedStreams(prefix: string): Promise<void> {
  const nc = await connectTestNats();
  try {
    const jsm = await jetstreamManager(nc);
    for await (const name of jsm.streams.names()) {
      if (name.startsWith(`${prefix.toUpperCase()}_`) || name.startsWith(`KV_${prefix}-`)) await jsm.streams.delete(name);
    }
  } finally {
    await nc.close();
  }
}
