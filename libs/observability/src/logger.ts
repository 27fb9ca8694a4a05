import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { activeTraceIds } from './spans.ts';

export type { Logger } from 'pino';

export interface LoggerConfig {
  /** `LOG_LEVEL` or `info` by default. */
  readonly level?: string;
  /** Where lines go; stdout by default. Tests pass a stream to read them back. */
  readonly destination?: DestinationStream;
}

/**
 * A pino JSON logger named `name`; every line carries `trace_id`/`span_id` of the span active when it
 * is written, so logs join their trace in the viewer.
 */
export function createLogger(name: string, config: LoggerConfig = {}): Logger {
  const options: LoggerOptions = {
    name,
    level: config.level ?? process.env['LOG_LEVEL'] ?? 'info',
    mixin: () => activeTraceIds() ?? {},
    timestamp: pino.stdTimeFunctions.isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
  return config.destination === undefined ? pino(options) : pino(options, config.destination);
}
