import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { testingV1 } from '@berth/contracts';
import { callUnary, CancelledError, createClient, DeadlineExceededError } from './index.ts';
import { errorOf, startEchoServer, type EchoServer } from './testing/echo-fixture.ts';

describe('deadlines', () => {
  let back: EchoServer;
  let front: EchoServer;
  let toFront: testingV1.EchoServiceClient;
  let frontToBack: testingV1.EchoServiceClient;
  beforeAll(async () => {
    back = await startEchoServer();
    // The front server's handler relays to the back server with `parent: ctx`.
    frontToBack = createClient(testingV1.EchoServiceClient, back.address);
    front = await startEchoServer({ downstream: frontToBack });
    toFront = front.client();
  });
  afterAll(async () => {
    frontToBack.close();
    await front.close();
    await back.close();
  });

  it('exposes the deadline to the handler', async () => {
    const deadline = new Date(Date.now() + 10_000);
    const response = await callUnary(toFront, 'echo', { message: 'hi', delayMillis: 0 }, { deadline });
    // Sent as a relative timeout, so it arrives shifted by the transit time (generous: the machine is shared).
    expect(Math.abs(response.deadlineUnixMillis - deadline.getTime())).toBeLessThan(1000);
  });

  it('a handler that outlives the deadline gives DEADLINE_EXCEEDED and sees its signal fire', async () => {
    const before = front.observed.aborts.length;
    const err = await errorOf(callUnary(toFront, 'echo', { message: 'slow', delayMillis: 10_000 }, { deadline: Date.now() + 500 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    await vi.waitFor(() => expect(front.observed.aborts.length).toBeGreaterThan(before));
    expect(front.observed.aborts.at(-1)).toBeInstanceOf(DeadlineExceededError);
  });

  it("uses the client's default deadline when the call gives none", async () => {
    const impatient = front.client({ deadlineMillis: 200 });
    const err = await errorOf(callUnary(impatient, 'echo', { message: 'slow', delayMillis: 10_000 }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it('passes the parent deadline downstream, and the whole chain gives up at it', async () => {
    const deadline = Date.now() + 1000;
    const backCalls = back.observed.deadlines.length;
    const err = await errorOf(callUnary(toFront, 'echo', { message: 'relay', delayMillis: 10_000 }, { deadline }));
    expect(err.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const seen = back.observed.deadlines[backCalls];
    // Without propagation the back call would carry the client default (30 s from now).
    expect(seen).toBeInstanceOf(Date);
    expect(seen!.getTime()).toBeLessThanOrEqual(deadline + 1000);
    await vi.waitFor(() => expect(back.observed.aborts.length).toBeGreaterThan(0));
  });

  it('a relayed call answers normally inside the deadline', async () => {
    const deadline = Date.now() + 10_000;
    const response = await callUnary(toFront, 'echo', { message: 'relay', delayMillis: 0 }, { deadline });
    expect(response.message).toBe('from-relay');
    expect(response.deadlineUnixMillis).toBeLessThanOrEqual(deadline + 1000);
    expect(response.deadlineUnixMillis).toBeGreaterThan(0);
  });

  it('cancelling the parent call cancels the downstream call', async () => {
    const backCalls = back.observed.deadlines.length;
    const backAborts = back.observed.aborts.length;
    const call = toFront.echo({ message: 'relay', delayMillis: 10_000 }, () => undefined);
    await vi.waitFor(() => expect(back.observed.deadlines.length).toBeGreaterThan(backCalls));
    call.cancel();
    await vi.waitFor(() => expect(back.observed.aborts.length).toBeGreaterThan(backAborts));
    expect(back.observed.aborts.at(-1)).toBeInstanceOf(CancelledError);
  });

  it('a parent already aborted cancels the call before it is answered', async () => {
    const controller = new AbortController();
    controller.abort(new CancelledError('/parent'));
    const err = await errorOf(
      callUnary(toFront, 'echo', { message: 'hi', delayMillis: 0 }, { parent: { deadline: undefined, signal: controller.signal } }),
    );
    expect(err.code).toBe(grpc.status.CANCELLED);
  });
});
