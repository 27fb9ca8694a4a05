import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { testingV1 } from '@berth/contracts';
import { callUnary, createClient } from './index.ts';
import { startEchoServer } from './testing/echo-fixture.ts';

type ChannelzCall = (
  call: { request: Record<string, string> },
  callback: (err: Error | null, res: Record<string, unknown[]>) => void,
) => void;

/** What grpc-js' channelz registry holds (what a channelz service would answer). */
async function channelz(): Promise<{ servers: number; channels: number }> {
  const handlers = grpc.getChannelzHandlers() as unknown as Record<string, ChannelzCall>;
  const ask = (name: string, field: string, startField: string): Promise<number> =>
    new Promise((resolve, reject) =>
      handlers[name]!({ request: { [startField]: '0', max_results: '1000' } }, (err, res) =>
        err ? reject(err) : resolve(res[field]!.length),
      ),
    );
  return {
    servers: await ask('GetServers', 'server', 'start_server_id'),
    channels: await ask('GetTopChannels', 'channel', 'start_channel_id'),
  };
}

describe('channel defaults', () => {
  it('serves and calls without channelz bookkeeping unless the options ask for it', async () => {
    const before = await channelz();
    const echo = await startEchoServer();
    const client = echo.client();
    await expect(callUnary(client, 'echo', { message: 'hi', delayMillis: 0 })).resolves.toMatchObject({ message: 'hi' });
    expect(await channelz()).toEqual(before);

    const tracked = await startEchoServer({ channelOptions: { 'grpc.enable_channelz': 1 } });
    const trackedClient = createClient(testingV1.EchoServiceClient, tracked.address, { channelOptions: { 'grpc.enable_channelz': 1 } });
    await expect(callUnary(trackedClient, 'echo', { message: 'hi', delayMillis: 0 })).resolves.toMatchObject({ message: 'hi' });
    expect(await channelz()).toEqual({ servers: before.servers + 1, channels: before.channels + 1 });

    trackedClient.close();
    await tracked.close();
    await echo.close();
  });
});
