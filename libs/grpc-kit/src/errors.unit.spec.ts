import * as grpc from '@grpc/grpc-js';
import { describe, expect, it } from 'vitest';
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
