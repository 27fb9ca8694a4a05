import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
import { CancelledError, DeadlineExceededError } from '@berth/errors';
import { knownStatusOf } from './errors.ts';

const withCode = (message: string, code: string): Error => Object.assign(new Error(message), { code });

describe('knownStatusOf: a dependency out of reach is UNAVAILABLE, not INTERNAL', () => {
  it.each([
    ['a socket reset', withCode('read ECONNRESET', 'ECONNRESET')],
    ['a refused connection', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['Postgres shutting down (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['a Postgres connection exception (08006)', withCode('connection failure', '08006')],
    ['pg: connection lost', new Error('Connection terminated unexpectedly')],
    ['pg: query timeout', new Error('Query read timeout')],
    ['wrapped in a cause', new Error('append failed', { cause: withCode('read ECONNRESET', 'ECONNRESET') })],
  ])('%s', (_, err) => {
    expect(knownStatusOf(err)?.code).toBe(grpc.status.UNAVAILABLE);
  });

  it('a bug stays unknown (INTERNAL), and so does an SQL error that is not about the connection', () => {
    expect(knownStatusOf(new TypeError('x is undefined'))).toBeUndefined();
    expect(knownStatusOf(withCode('duplicate key value violates unique constraint', '23505'))).toBeUndefined();
  });
});

describe('knownStatusOf: a statement Postgres cancelled (SQLSTATE 57014)', () => {
  const canceled = (): Error => withCode('canceling statement due to user request', '57014');
  const callOf = (deadline: Date | undefined, reason?: Error) => {
    const controller = new AbortController();
    if (reason !== undefined) controller.abort(reason);
    return { deadline, signal: controller.signal };
  };

  it('is DEADLINE_EXCEEDED when the call ended at its deadline', () => {
    const past = new Date(Date.now() - 10);
    expect(knownStatusOf(canceled(), callOf(past, new DeadlineExceededError('/m')))?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // The deadline passed but the signal's timer has not fired yet.
    expect(knownStatusOf(canceled(), callOf(past))?.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    // statement_timeout ends the statement a little before the call's own timer.
    expect(knownStatusOf(withCode('canceling statement due to statement timeout', '57014'), callOf(past))?.code).toBe(
      grpc.status.DEADLINE_EXCEEDED,
    );
  });

  it('is CANCELLED when the client cancelled, even with a deadline ahead', () => {
    const ahead = new Date(Date.now() + 60_000);
    expect(knownStatusOf(canceled(), callOf(ahead, new CancelledError('/m')))?.code).toBe(grpc.status.CANCELLED);
    expect(knownStatusOf(canceled(), callOf(undefined, new CancelledError('/m')))?.code).toBe(grpc.status.CANCELLED);
    expect(knownStatusOf(new Error('batch failed', { cause: canceled() }), callOf(undefined, new CancelledError('/m')))?.code).toBe(
      grpc.status.CANCELLED,
    );
  });

  it('is UNAVAILABLE (retry) when the call is still running or there is none: cancelled by someone else', () => {
    expect(knownStatusOf(canceled())?.code).toBe(grpc.status.UNAVAILABLE);
    expect(knownStatusOf(canceled(), callOf(new Date(Date.now() + 60_000)))?.code).toBe(grpc.status.UNAVAILABLE);
  });
});
