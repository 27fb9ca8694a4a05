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

  // What a call meets while Postgres or NATS restart under it (the chaos harness kills both): each
  // a retry, never INTERNAL. Shaped as node-postgres, pg-pool and nats.js v3 make them.
  const named = (name: string, message: string, extra: object = {}): Error => Object.assign(new Error(message), { name }, extra);
  it.each([
    ['Postgres immediate shutdown (57P01)', withCode('terminating connection due to immediate shutdown command', '57P01')],
    ['Postgres crash of another backend (57P02)', withCode('terminating connection because of crash of another server process', '57P02')],
    ['Postgres starting up (57P03)', withCode('the database system is starting up', '57P03')],
    ['Postgres in recovery (57P03)', withCode('the database system is in recovery mode', '57P03')],
    ['Postgres shutting down (57P03)', withCode('the database system is shutting down', '57P03')],
    ['Postgres out of connections after a restart (53300)', withCode('sorry, too many clients already', '53300')],
    ['connection refused while Postgres is down', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['a write to a connection the server closed', withCode('write EPIPE', 'EPIPE')],
    ['connect timed out', withCode('connect ETIMEDOUT 10.0.0.1:5432', 'ETIMEDOUT')],
    ['pg: a client ended while a statement waited', new Error('Connection terminated')],
    ['pg: connection timeout', new Error('Connection terminated due to connection timeout', { cause: new Error('timeout expired') })],
    ['pg-pool: no connection in time', new Error('timeout exceeded when trying to connect')],
    ['pg: a statement on a client that was ended', new Error('Client was closed and is not queryable')],
    ['pg: a statement on a client whose connection failed', new Error('Client has encountered a connection error and is not queryable')],
    ['pg-pool: the process is stopping', new Error('Cannot use a pool after calling end on the pool')],
    [
      'every address refused (AggregateError)',
      new AggregateError(
        [withCode('connect ECONNREFUSED ::1:5432', 'ECONNREFUSED'), withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
        '',
      ),
    ],
    ['NATS: connection closed', named('ClosedConnectionError', 'closed connection')],
    ['NATS: connection draining (the process stops)', named('DrainingConnectionError', 'connection draining')],
    ['NATS: disconnected during a request', named('RequestError', 'connection disconnected')],
    ['NATS: a request timed out', named('TimeoutError', 'timeout')],
    ['NATS: no responders (JetStream restarting)', named('NoResponders', "no responders: '$JS.API.STREAM.INFO.X'")],
    ['NATS: JetStream not enabled yet', named('JetStreamNotEnabled', 'jetstream is not enabled')],
    ['NATS: JetStream 503 status', named('JetStreamStatusError', 'no responders', { code: 503 })],
    ['a NATS error wrapped by the caller', new Error('publish failed', { cause: named('ClosedConnectionError', 'closed connection') })],
  ])('restart: %s', (_, err) => {
    expect(knownStatusOf(err)).toMatchObject({
      code: grpc.status.UNAVAILABLE,
      details: expect.stringMatching(/^a dependency is unreachable, retry: /),
    });
  });

  it.each([
    ['serialization failure (40001)', withCode('could not serialize access due to concurrent update', '40001')],
    ['deadlock (40P01)', withCode('deadlock detected', '40P01')],
  ])('a transaction Postgres aborted is ABORTED (retry), not INTERNAL: %s', (_, err) => {
    expect(knownStatusOf(new Error('append failed', { cause: err }))?.code).toBe(grpc.status.ABORTED);
  });

  it('a bug stays unknown (INTERNAL), and so does an SQL error that is not about the connection', () => {
    expect(knownStatusOf(new TypeError('x is undefined'))).toBeUndefined();
    expect(knownStatusOf(withCode('duplicate key value violates unique constraint', '23505'))).toBeUndefined();
    expect(knownStatusOf(withCode('could not write to file', '58030'))).toBeUndefined();
    expect(knownStatusOf(named('ProtocolError', "'Authorization Violation'"))).toBeUndefined();
    expect(knownStatusOf(new Error('Connection to the hypervisor failed'))).toBeUndefined();
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
