import type * as grpc from '@grpc/grpc-js';

/**
 * What every Berth server and client channel runs with unless `channelOptions` says otherwise.
 * `grpc.enable_channelz: 0`: grpc-js otherwise keeps channelz statistics on every call (call
 * counters, per-call closures, a timestamp per message on the server, a Date per call started)
 * for a channelz service no Berth process serves. Pass `{ 'grpc.enable_channelz': 1 }` to get
 * them back (e.g. with `@grpc/grpc-js`' `addAdminServicesToServer`).
 * Keepalive: while calls are open, a peer that stops answering (a black hole, a frozen process,
 * a half-open connection) is noticed within 15 s and the channel reconnects; without it a channel
 * stays on a dead connection until the OS gives up (minutes) and every call meanwhile only ends at
 * its deadline.
 */
export const KIT_CHANNEL_DEFAULTS: Readonly<grpc.ChannelOptions> = {
  'grpc.enable_channelz': 0,
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
};

/** The kit's defaults under the caller's options (the caller wins). */
export function withKitDefaults(options: grpc.ChannelOptions | undefined): grpc.ChannelOptions {
  return { ...KIT_CHANNEL_DEFAULTS, ...options };
}
