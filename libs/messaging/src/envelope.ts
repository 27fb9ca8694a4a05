import type { EventEnvelope } from '@berth/contracts';

export type EnvelopeParse = { readonly ok: true; readonly envelope: EventEnvelope } | { readonly ok: false; readonly reason: string };

const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and validates a message body as an EventEnvelope. A failure is a poison message: no retry
 * can fix it, so consumers terminate it at once and dead-letter it with `reason`.
 */
export function parseEnvelope(body: Uint8Array): EnvelopeParse {
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(body));
  } catch (e) {
    return { ok: false, reason: `unparseable JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
  return validateEnvelope(json);
}

export function validateEnvelope(json: unknown): EnvelopeParse {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    return { ok: false, reason: 'invalid envelope: body must be a JSON object' };
  const o = json as Record<string, unknown>;
  const problems: string[] = [];
  const str = (k: string): void => {
    if (typeof o[k] !== 'string' || o[k] === '') problems.push(`${k} must be a non-empty string`);
  };
  str('id');
  str('type');
  str('streamId');
  str('globalPosition');
  str('occurredAt');
  if (!Number.isInteger(o['schemaVersion']) || (o['schemaVersion'] as number) < 1) problems.push('schemaVersion must be an integer >= 1');
  if (!Number.isInteger(o['streamPosition']) || (o['streamPosition'] as number) < 1)
    problems.push('streamPosition must be an integer >= 1');
  if (o['commandId'] !== undefined && typeof o['commandId'] !== 'string') problems.push('commandId must be a string when present');
  if (o['transactionId'] !== undefined && (typeof o['transactionId'] !== 'string' || !/^\d+$/.test(o['transactionId'])))
    problems.push('transactionId must be a decimal string when present');
  if (o['project'] !== undefined && typeof o['project'] !== 'string') problems.push('project must be a string when present');
  if (!('data' in o)) problems.push('data is missing');
  if (problems.length > 0) return { ok: false, reason: `invalid envelope: ${problems.join('; ')}` };
  return { ok: true, envelope: o as unknown as EventEnvelope };
}

/** An envelope whose data is JSON text already (the relay reads it so from Postgres): one JSON value. */
export type RawEventEnvelope = Omit<EventEnvelope, 'data'> & { readonly dataJson: string };

const encoder = new TextEncoder();

/**
 * The envelope exactly as it travels: the known fields only (metadata such as traceparent stays home).
 * With `dataJson` the text goes into the body as it is, so the body parses to the same envelope as
 * with `data: JSON.parse(dataJson)`, without parsing and re-serialising the data.
 */
export function envelopeBody(e: EventEnvelope | RawEventEnvelope): Uint8Array {
  const head = {
    id: e.id,
    type: e.type,
    schemaVersion: e.schemaVersion,
    streamId: e.streamId,
    streamPosition: e.streamPosition,
    globalPosition: e.globalPosition,
    occurredAt: e.occurredAt,
    ...(e.commandId === undefined ? {} : { commandId: e.commandId }),
    ...(typeof e.transactionId === 'string' ? { transactionId: e.transactionId } : {}),
    ...(typeof e.project === 'string' ? { project: e.project } : {}),
  };
  if ('dataJson' in e && typeof e.dataJson === 'string') {
    // `{...}` of the head without its closing brace, then the data member last, as in the object form.
    const json = JSON.stringify(head);
    return encoder.encode(`${json.slice(0, -1)},"data":${e.dataJson}}`);
  }
  return encoder.encode(JSON.stringify({ ...head, data: (e as EventEnvelope).data }));
}
