/**
 * A relay in its own process, for the crash test: tails the store in DATABASE_URL and publishes to
 * JetStream at NATS_URL on `${SUBJECT_PREFIX}.<streamId>` with the event id as message id.
 * Run with `node --import tsx libs/event-store/src/testing/relay-child.ts`. With DIE_AFTER_PUBLISHES=n it
 * SIGKILLs itself right after the n-th acknowledged publish: mid-batch, before that batch's checkpoint.
 * Resuming, it reads back the ids of the newest batch-size messages of STREAM (the relay's
 * `alreadyPublished`), by sequence as @berth/messaging's publisher does for the services.
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { createKysely, PostgresEventStore, startRelay } from '../index.ts';

const env = (name: string): string => {
  const v = process.env[name];
  if (v === undefined || v === '') throw new Error(`${name} is required`);
  return v;
};

const prefix = env('SUBJECT_PREFIX');
const dieAfter = Number(process.env['DIE_AFTER_PUBLISHES'] ?? '0');
let acked = 0;
const nc = await connect({ servers: env('NATS_URL'), maxReconnectAttempts: -1, reconnectTimeWait: 100, waitOnFirstConnect: true });
const js = jetstream(nc, { timeout: 2000 });
const jsm = await jetstreamManager(nc, { timeout: 2000 });
const stream = env('STREAM');
const db = createKysely(env('DATABASE_URL'), { max: 2 });
const relay = startRelay({
  store: new PostgresEventStore(db),
  name: env('RELAY_NAME'),
  batchSize: Number(process.env['BATCH_SIZE'] ?? '200'),
  pollMillis: 100,
  logger: { warn: () => undefined, error: () => undefined },
  alreadyPublished: async (count) => {
    const { state } = await jsm.streams.info(stream);
    if (state.messages === 0) return [];
    const from = Math.max(state.first_seq, state.last_seq - count + 1);
    const seqs = Array.from({ length: Math.max(0, state.last_seq - from + 1) }, (_, i) => from + i);
    const msgs = await Promise.all(seqs.map(async (seq) => jsm.streams.getMessage(stream, { seq })));
    return msgs.map((m) => m?.header?.get('Nats-Msg-Id') ?? '');
  },
  publish: async (e) => {
    await js.publish(`${prefix}.${e.streamId}`, JSON.stringify(e), { msgID: e.id });
    if (++acked === dieAfter) process.kill(process.pid, 'SIGKILL');
  },
});
process.stdout.write('relay-ready\n');
process.once('SIGTERM', () => {
  void relay
    .stop()
    .then(async () => Promise.all([db.destroy(), nc.close()]))
    .then(() => process.exit(0));
});
