import { randomUUID } from 'node:crypto';
import type { CallDeadline } from '@berth/errors';
import type { EventStreams } from '@berth/event-store';

export const newId = (): string => randomUUID();

/**
 * The id a retried create command used the first time (the stream it appended to), so a retry
 * without a client-chosen id does not create a second host or VM.
 */
export async function priorId(
  streams: EventStreams,
  commandId: string | undefined,
  streamPrefix: string,
  call?: CallDeadline,
): Promise<string | undefined> {
  if (!commandId) return undefined;
  const prior = await streams.commandResult(commandId, call);
  return prior?.appends.find((a) => a.streamId.startsWith(streamPrefix))?.streamId.slice(streamPrefix.length);
}
