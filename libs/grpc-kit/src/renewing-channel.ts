import * as grpc from '@grpc/grpc-js';

const { CONNECTING, TRANSIENT_FAILURE, SHUTDOWN } = grpc.connectivityState;

/**
 * Default bound on how long a client channel may stay connecting (CONNECTING or TRANSIENT_FAILURE,
 * never READY in between) before it is replaced: gRPC's MIN_CONNECT_TIMEOUT (connection-backoff.md).
 */
export const DEFAULT_CONNECT_TIMEOUT_MILLIS = 20_000;

/**
 * A client channel that bounds connection attempts, which grpc-js (1.14) does not: a connection whose
 * TCP handshake succeeds and whose TLS or HTTP/2 handshake never gets an answer (a black hole that
 * swallowed the flow: a middlebox that forgot it, a proxy that accepts and drops) leaves the subchannel
 * CONNECTING for good, no reconnect is ever scheduled, and every call ends at its deadline with
 * "Waiting for LB pick", also long after the link healed (grpc/grpc-node#2785; the fix, #3071, is not
 * released). Keepalive does not help: it pings only on a connected transport.
 *
 * This channel holds a grpc-js channel and follows its connectivity state. When it has been connecting
 * (CONNECTING, or TRANSIENT_FAILURE in between, without READY) for `connectTimeoutMillis`, it is closed
 * and a fresh one takes its place: calls that waited on it end with UNAVAILABLE ("Channel closed before
 * call started"), calls made afterwards go to the fresh channel, which starts IDLE and connects on its
 * first call. A channel that is READY or IDLE is never replaced. Every channel made here has its own
 * subchannel pool (`grpc.use_local_subchannel_pool`): with grpc-js' global pool a fresh channel to the
 * same address would be handed the same stuck subchannel.
 *
 * Left as it is: the socket of the swallowed attempt; grpc-js gives no handle on it. It closes when the
 * peer or the kernel gives up on it (TCP's retransmission timeout for data the black hole never
 * acknowledged); at most one such socket per bound while the black hole lasts.
 */
export class RenewingChannel implements grpc.ChannelInterface {
  #current: grpc.Channel;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;
  #renewals = 0;

  constructor(
    private readonly target: string,
    private readonly credentials: grpc.ChannelCredentials,
    private readonly options: grpc.ChannelOptions,
    /** How long a channel may stay connecting before it is replaced (> 0). */
    readonly connectTimeoutMillis: number,
  ) {
    if (!(connectTimeoutMillis > 0) || !Number.isFinite(connectTimeoutMillis))
      throw new RangeError(`connectTimeoutMillis must be a positive number of milliseconds, got ${connectTimeoutMillis}`);
    this.#current = this.#make();
    this.#follow(this.#current);
  }

  /** How many times the channel was replaced because it stayed connecting past the bound. */
  get renewals(): number {
    return this.#renewals;
  }

  #make(): grpc.Channel {
    return new grpc.Channel(this.target, this.credentials, { ...this.options, 'grpc.use_local_subchannel_pool': 1 });
  }

  /** Follows `channel`'s state while it is the current one: a connecting stretch starts the clock, READY or IDLE stops it. */
  #follow(channel: grpc.Channel): void {
    if (channel !== this.#current) return;
    const state = channel.getConnectivityState(false);
    if (state === SHUTDOWN) return;
    if (state === CONNECTING || state === TRANSIENT_FAILURE) {
      if (this.#timer === undefined) {
        this.#timer = setTimeout(() => this.#expire(channel), this.connectTimeoutMillis);
        this.#timer.unref();
      }
    } else this.#stopClock();
    channel.watchConnectivityState(state, Infinity, () => this.#follow(channel));
  }

  #expire(channel: grpc.Channel): void {
    this.#timer = undefined;
    if (this.#closed || channel !== this.#current) return;
    const state = channel.getConnectivityState(false);
    if (state !== CONNECTING && state !== TRANSIENT_FAILURE) return;
    this.#renewals++;
    this.#current = this.#make();
    this.#follow(this.#current);
    channel.close();
  }

  #stopClock(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.#closed = true;
    this.#stopClock();
    this.#current.close();
  }

  getTarget(): string {
    return this.#current.getTarget();
  }

  getConnectivityState(tryToConnect: boolean): grpc.connectivityState {
    return this.#current.getConnectivityState(tryToConnect);
  }

  watchConnectivityState(currentState: grpc.connectivityState, deadline: Date | number, callback: (error?: Error) => void): void {
    // A replaced channel goes SHUTDOWN, which is a change: the watcher looks again and sees the fresh one.
    this.#current.watchConnectivityState(currentState, deadline, callback);
  }

  getChannelzRef(): ReturnType<grpc.ChannelInterface['getChannelzRef']> {
    return this.#current.getChannelzRef();
  }

  createCall(...args: Parameters<grpc.ChannelInterface['createCall']>): ReturnType<grpc.ChannelInterface['createCall']> {
    return this.#current.createCall(...args);
  }
}
