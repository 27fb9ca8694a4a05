import type * as grpc from '@grpc/grpc-js';

/**
 * What every Berth server and client channel runs with unless `channelOptions` says otherwise.
 * `grpc.enable_channelz: 0`: grpc-js otherwise keeps channelz statistics on every call (call
 * counters, per-call closures, a timestamp per message on the server, a Date per call started)
 * for a channelz service no Berth process serves. Pass `{ 'grpc.enable_channelz': 1 }` to get
 * them back (e.g. with `@grpc/grpc-js`' `addAdminServicesToServer`).
 */
export const KIT_CHANNEL_DEFAULTS: Readonly<grpc.ChannelOptions> = { 'grpc.enable_channelz': 0 };

/** The kit's defaults under the caller's options (the caller wins). */
export function withKitDefaults(options: grpc.ChannelOptions | undefined): grpc.ChannelOptions {
  return { ...KIT_CHANNEL_DEFAULTS, ...options };
}
