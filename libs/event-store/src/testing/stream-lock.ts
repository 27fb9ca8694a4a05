import pg from 'pg';

export interface StreamLock {
  /** The session holding the lock (end it after the test). */
  readonly client: pg.Client;
  /** Commits, which lets the waiting appends through. */
  release(): Promise<void>;
}

/** Another session holding `streamId`'s row of the store's streams table, so an append to the stream waits until `release`. */
export async function holdStreamRow(url: string, streamId: string): Promise<StreamLock> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  await client.query('BEGIN');
  await client.query('SELECT 1 FROM streams WHERE stream_id = $1 FOR UPDATE', [streamId]);
  return { client, release: async () => void (await client.query('COMMIT')) };
}
