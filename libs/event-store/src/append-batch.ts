import { CompiledQuery } from 'kysely';
import type pg from 'pg';
import { ValidationError } from '@berth/errors';
import { fromRow, type AppendRow } from './append-sql.ts';
import { TIMESTAMPTZ_AS_TEXT } from './rows.ts';
import type { AnyKysely } from './db.ts';
import { poolQuery } from './connection.ts';
import type { CallStatements } from './call-statements.ts';
import { traceMetadata } from './trace.ts';
import { prepareAppend, type PreparedDoc } from './validate.ts';
import type { AppendResult, BatchItem, BatchOutcome, StoredEvent } from './types.ts';

/**
 * Appends many independent commands in one statement (see `appendBatch` of the store) and reads the
 * answer rows back into one outcome per item, in item order.
 */
export async function appendBatchRows(
  exec: AnyKysely,
  schema: string,
  pool: pg.Pool | undefined,
  items: readonly BatchItem[],
  versionOf: (type: string) => number,
  statements?: CallStatements,
): Promise<BatchOutcome[]> {
  // One context for the whole statement: every append of the batch runs in it.
  const context = traceMetadata();
  const prepared = prepareBatch(items, () => context, versionOf);
  const text = `SELECT * FROM ${schema}.berth_append_batch($1::jsonb)`;
  const rows =
    pool === undefined
      ? (await exec.executeQuery<BatchRow>(CompiledQuery.raw(text, [prepared.json]))).rows
      : (
          await poolQuery<BatchRow>(
            pool,
            { name: `berth_append_batch_${schema}`, text, values: [prepared.json], types: TIMESTAMPTZ_AS_TEXT },
            statements,
          )
        ).rows;
  const outcomes: (BatchOutcome | undefined)[] = items.map(() => undefined);
  const written = new Map<string, BatchRow>();
  const duplicates = new Map<number, BatchRow[]>();
  for (const r of rows) {
    if (r.o_outcome === 'ok') {
      written.set(`${r.o_stream_id}\u0000${r.o_stream_position}`, r);
    } else if (r.o_outcome === 'conflict') {
      outcomes[r.o_item! - 1] = { outcome: 'conflict', streamId: r.o_stream_id!, actualVersion: Number(r.o_version) };
    } else {
      const list = duplicates.get(r.o_item!) ?? [];
      if (r.o_stream_id !== null) list.push(r);
      duplicates.set(r.o_item!, list);
    }
  }
  for (const [item, list] of duplicates) {
    const byStream = new Map<string, StoredEvent[]>();
    for (const r of list) byStream.set(r.o_stream_id!, [...(byStream.get(r.o_stream_id!) ?? []), fromRow(r.o_stream_id!, r)]);
    outcomes[item - 1] = {
      outcome: 'duplicate',
      appends: [...byStream].map(([streamId, events]) => ({
        streamId,
        nextExpectedVersion: events.at(-1)!.streamPosition,
        events,
        duplicate: true,
      })),
    };
  }
  return items.map((item, i) => {
    const decided = outcomes[i];
    if (decided !== undefined) return decided;
    const appends = item.appends.map((a, j): AppendResult => {
      const events = a.events.map((_, k) => {
        const r = written.get(`${a.streamId}\u0000${a.expectedVersion + k + 1}`);
        if (r === undefined) throw new Error(`append batch: no row for ${a.streamId}@${a.expectedVersion + k + 1}`);
        return fromRow(a.streamId, r, prepared.docs[i]![j]![k]);
      });
      return { streamId: a.streamId, nextExpectedVersion: a.expectedVersion + a.events.length, events, duplicate: false };
    });
    return { outcome: 'ok', appends };
  });
}

interface BatchRow extends Omit<AppendRow, 'o_outcome'> {
  readonly o_outcome: 'ok' | 'duplicate' | 'conflict';
  readonly o_item: number | null;
  readonly o_stream_id: string | null;
}

/** The batch as the SQL function's JSON, validated like single appends, and each event's data and metadata per item and append. */
function prepareBatch(
  items: readonly BatchItem[],
  metadataFor: () => Record<string, string>,
  versionOf: (type: string) => number,
): { json: string; docs: PreparedDoc[][][] } {
  const docs: PreparedDoc[][][] = [];
  // One flat string for the whole batch: every piece joined once (see PreparedAppend.eventsPieces).
  const out: string[] = ['['];
  items.forEach((item, i) => {
    if (item.appends.length === 0) throw new ValidationError({ field: `items[${i}].appends`, reason: 'must not be empty' });
    const streams = new Set<string>();
    const itemDocs: PreparedDoc[][] = [];
    docs.push(itemDocs);
    out.push(i === 0 ? '{"c":' : ',{"c":', item.commandId === undefined ? 'null' : JSON.stringify(item.commandId), ',"a":[');
    item.appends.forEach((a, j) => {
      if (typeof a.expectedVersion !== 'number')
        throw new ValidationError({
          field: `items[${i}].appends[${j}].expectedVersion`,
          reason: 'must be an exact version (0: no stream)',
        });
      if (streams.has(a.streamId))
        throw new ValidationError({ field: `items[${i}].appends[${j}].streamId`, reason: 'appears twice in one item' });
      streams.add(a.streamId);
      const p = prepareAppend(
        a.streamId,
        a.events,
        { expectedVersion: a.expectedVersion, ...(item.commandId === undefined ? {} : { commandId: item.commandId }) },
        metadataFor,
        versionOf,
      );
      itemDocs.push(p.docs);
      out.push(j === 0 ? '{"s":' : ',{"s":', JSON.stringify(p.streamId), ',"v":', String(p.expected), ',"e":');
      for (const piece of p.eventsPieces) out.push(piece);
      out.push('}');
    });
    out.push(']}');
  });
  out.push(']');
  return { json: out.join(''), docs };
}
