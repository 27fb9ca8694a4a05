import { EventEmitter } from 'node:events';
import type * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { CancelledError, createCallContext, DeadlineExceededError } from './context.ts';

const METHOD = '/berth.testing.v1.EchoService/Echo';

/** The part of a grpc-js server call the context reads, as an EventEmitter like the real one. */
class FakeCall extends EventEmitter {
  cancelled = false;
  readonly metadata = { get: () => [] } as unknown as grpc.Metadata;
  peerReads = 0;
  constructor(private readonly deadline: Date | number) {
    super();
  }
  getPath = (): string => METHOD;
  getDeadline = (): Date | number => this.deadline;
  getPeer = (): string => {
    this.peerReads += 1;
    return 'ipv4:127.0.0.1:5555';
  };
  cancel(): void {
    this.cancelled = true;
    this.emit('cancelled', 'cancelled');
  }
}

const contextOf = (call: FakeCall) => createCallContext(call as unknown as grpc.ServerUnaryCall<unknown, unknown>);

describe('call context', () => {
  beforeEach(() => {
    vi.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('costs a handler that never asks for signal or peer no timer and no listener', () => {
    const call = new FakeCall(new Date(1_000_000 + 5_000));
    const ctx = contextOf(call);
    expect(ctx.method).toBe(METHOD);
    expect(ctx.deadline).toEqual(new Date(1_005_000));
    expect(call.listenerCount('cancelled')).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
    expect(call.peerReads).toBe(0);
    ctx.dispose();
    expect(call.listenerCount('cancelled')).toBe(0);
  });

  it('has no deadline when the client set none (grpc-js says Infinity)', () => {
    const ctx = contextOf(new FakeCall(Infinity));
    expect(ctx.deadline).toBeUndefined();
    expect(ctx.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    ctx.dispose();
  });

  it('aborts the signal at the deadline with DeadlineExceededError', () => {
    const call = new FakeCall(1_000_000 + 5_000);
    const ctx = contextOf(call);
    const signal = ctx.signal;
    expect(ctx.signal).toBe(signal);
    expect(signal.aborted).toBe(false);
    expect(call.listenerCount('cancelled')).toBe(1);
    vi.advanceTimersByTime(5_000);
    expect(signal.aborted).toBe(true);
    expect(signal.reason).toBeInstanceOf(DeadlineExceededError);
    expect((signal.reason as Error).message).toBe(`deadline exceeded in ${METHOD}`);
  });

  it('aborts the signal when the client cancels, with CancelledError', () => {
    const call = new FakeCall(1_000_000 + 5_000);
    const ctx = contextOf(call);
    const signal = ctx.signal;
    call.cancel();
    expect(signal.reason).toBeInstanceOf(CancelledError);
  });

  it('reports a cancel at or after the deadline as DeadlineExceededError', () => {
    const call = new FakeCall(1_000_000 + 5_000);
    const ctx = contextOf(call);
    const signal = ctx.signal;
    vi.setSystemTime(1_000_000 + 5_000);
    call.cancel();
    expect(signal.reason).toBeInstanceOf(DeadlineExceededError);
  });

  it('a signal first asked for after the client cancelled is already aborted', () => {
    const call = new FakeCall(1_000_000 + 5_000);
    const ctx = contextOf(call);
    call.cancel();
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBeInstanceOf(CancelledError);
    expect(call.listenerCount('cancelled')).toBe(0);
  });

  it('a signal first asked for after the deadline passed is already aborted', () => {
    const ctx = contextOf(new FakeCall(1_000_000 + 5_000));
    vi.setSystemTime(1_000_000 + 6_000);
    expect(ctx.signal.aborted).toBe(true);
    expect(ctx.signal.reason).toBeInstanceOf(DeadlineExceededError);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('dispose clears the timer and the listener; the signal then never fires', () => {
    const call = new FakeCall(1_000_000 + 5_000);
    const ctx = contextOf(call);
    const signal = ctx.signal;
    expect(vi.getTimerCount()).toBe(1);
    ctx.dispose();
    expect(vi.getTimerCount()).toBe(0);
    expect(call.listenerCount('cancelled')).toBe(0);
    call.cancel();
    vi.advanceTimersByTime(10_000);
    expect(signal.aborted).toBe(false);
  });

  it('sets no timer for a deadline beyond setTimeout range (grpc-js cancels the call then)', () => {
    const call = new FakeCall(1_000_000 + 40 * 24 * 3600_000);
    const ctx = contextOf(call);
    expect(ctx.signal.aborted).toBe(false);
    expect(vi.getTimerCount()).toBe(0);
    call.cancel();
    expect(ctx.signal.reason).toBeInstanceOf(CancelledError);
  });

  it('reads the peer when asked', () => {
    const call = new FakeCall(Infinity);
    expect(contextOf(call).peer).toBe('ipv4:127.0.0.1:5555');
    expect(call.peerReads).toBe(1);
  });

  describe('ended and onEnd (the event store watches a call without its signal)', () => {
    it('ended() says why the call ended without making the signal or a timer', () => {
      const call = new FakeCall(1_000_000 + 5_000);
      const ctx = contextOf(call);
      expect(ctx.ended?.()).toBeUndefined();
      vi.setSystemTime(1_000_000 + 5_000);
      expect(ctx.ended?.()).toBeInstanceOf(DeadlineExceededError);
      vi.setSystemTime(1_000_000);
      call.cancel();
      expect(ctx.ended?.()).toBeInstanceOf(CancelledError);
      expect(vi.getTimerCount()).toBe(0);
    });

    it('ended() answers as the signal does once a handler made it', () => {
      const call = new FakeCall(1_000_000 + 5_000);
      const ctx = contextOf(call);
      const signal = ctx.signal;
      vi.advanceTimersByTime(5_000);
      expect(ctx.ended?.()).toBe(signal.reason);
    });

    it('watchers run once when the client cancels (or grpc-js ends the call at its deadline), with no timer and one listener', () => {
      const call = new FakeCall(1_000_000 + 5_000);
      const ctx = contextOf(call);
      const heard: string[] = [];
      ctx.onEnd?.(() => heard.push('a'));
      const stopB = ctx.onEnd?.(() => heard.push('b'));
      ctx.onEnd?.(() => heard.push('c'));
      stopB?.();
      expect(vi.getTimerCount()).toBe(0);
      expect(call.listenerCount('cancelled')).toBe(1);
      call.cancel();
      call.cancel();
      expect(heard).toEqual(['a', 'c']);
      expect(call.listenerCount('cancelled')).toBe(0);
      expect(ctx.ended?.()).toBeInstanceOf(CancelledError);
    });

    it('watchers also run when the signal a handler made fires at the deadline', () => {
      const call = new FakeCall(1_000_000 + 5_000);
      const ctx = contextOf(call);
      let heard = 0;
      ctx.onEnd?.(() => heard++);
      const signal = ctx.signal;
      vi.advanceTimersByTime(5_000);
      expect(signal.aborted).toBe(true);
      expect(heard).toBe(1);
      call.cancel();
      expect(heard).toBe(1);
    });

    it('dispose drops the watchers and their listener', () => {
      const call = new FakeCall(1_000_000 + 5_000);
      const ctx = contextOf(call);
      let heard = 0;
      ctx.onEnd?.(() => heard++);
      ctx.dispose();
      expect(call.listenerCount('cancelled')).toBe(0);
      call.cancel();
      expect(heard).toBe(0);
      ctx.onEnd?.(() => heard++);
      expect(call.listenerCount('cancelled')).toBe(0);
    });
  });
});
