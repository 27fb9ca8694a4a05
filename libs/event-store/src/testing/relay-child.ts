/**
 * A relay in its own process, for the crash test: tails the store in DATABASE_URL and publishes to
 * JetStream at NATS_URL on `${SUBJECT_PREFIX}.<streamId>` with the event id as message id.
 * Run with `node --import tsx libs/event-store/src/testing/relay-child.ts`. With DIE_AFTER_PUBLISHES=n it
 * SIGKILLs itself right after the n-th acknowledged publish: mid-batch, before that batch's checkpoint.
 */
import { connect } from '@nats-io/transport-node';
import { jetstream } from '@nats-io/jetstream';
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
const db = createKysely(env('DATABASE_URL'), { max: 2 });
const relay = startRelay({
  store: new PostgresEventStore(db),
  name: env('RELAY_NAME'),
  batchSize: Number(process.env['BATCH_SIZE'] ?? '200'),
  pollMillis: 100,
  logger: { warn: () => undefined, error: () => undefined },
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
