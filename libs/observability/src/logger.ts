import { isMainThread } from 'node:worker_threads';
import { destination, pino, stdSerializers, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { maskUrlsIn } from '@berth/config';
import { maskUrlsDeep, REDACT_CENSOR, REDACT_PATHS } from './redact.ts';
import { activeTraceIds } from './spans.ts';

export type { Logger } from 'pino';

export interface LoggerConfig {
  /** `LOG_LEVEL` or `info` by default. */
  readonly level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  readonly destination?: DestinationStream;
}

let stdout: DestinationStream | undefined;

/**
 * The one stdout destination of the process, shared by every logger so that concurrent writes never
 * interleave. On the main thread it is asynchronous (pino's sonic-boom with `sync: false`): a log
 * call only appends to a buffer and never waits on the pipe; lines logged while a write is in
 * flight leave together in the next one. There is no minimum length, so a quiet service's lines are
 * not held back. pino flushes it synchronously on `exit` — `process.exit()`, an uncaught exception,
 * an unhandled rejection — and on `beforeExit`. A worker thread gets no such hook from pino, so
 * there it stays synchronous.
 */
function stdoutDestination(): DestinationStream {
  stdout ??= destination({ dest: 1, sync: !isMainThread });
  return stdout;
}

const maskedError = (e: unknown): unknown => maskUrlsDeep(e instanceof Error ? stdSerializers.err(e) : e);

/**
 * A pino JSON logger named `name`; every line carries `trace_id`/`span_id` of the span active when it
 * is written, so logs join their trace in the viewer. By default lines go to stdout without blocking
 * (see `stdoutDestination`); `LOG_LEVEL` sets the level unless `config.level` does. Secrets are
 * redacted (redact.ts): values of secret-named keys become `***`, URL passwords in any string are masked.
 */
export function createLogger(name: string, config: LoggerConfig = {}): Logger {
  const options: LoggerOptions = {
    name,
    level: config.level ?? process.env['LOG_LEVEL'] ?? 'info',
    mixin: () => activeTraceIds() ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }), log: (obj) => maskUrlsDeep(obj) as Record<string, unknown> },
    redact: { paths: [...REDACT_PATHS], censor: REDACT_CENSOR },
    // An error's message and stack are not enumerable: mask them once serialised.
    serializers: { err: maskedError, error: maskedError },
    hooks: {
      // The message (and printf-style arguments) may carry a URL with its password.
      logMethod(args, method) {
        method.apply(this, args.map((a) => (typeof a === 'string' && a.includes('://') ? maskUrlsIn(a) : a)) as Parameters<typeof method>);
      },
    },
  };
  return pino(options, config.destination ?? stdoutDestination());
}
