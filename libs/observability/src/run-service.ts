import { maskUrlsIn } from '@berth/config';
import { createLogger, type Logger } from './logger.ts';

/** What a service's `start` returns: something to stop cleanly. */
export interface StoppableService {
  stop(): Promise<void>;
}

/**
 * The one `main` of a service process: `start` runs with the service's logger (it parses the config,
 * starts the composition root and logs that it serves); SIGTERM or SIGINT stops it once and exits 0.
 * A failed start is one fatal JSON line, URLs masked, and exit 1.
 */
export function runService(name: string, start: (logger: Logger) => Promise<StoppableService>): void {
  const logger = createLogger(name);
  start(logger).then(
    (running) => {
      let stopping = false;
      const stop = async (signal: string): Promise<void> => {
        if (stopping) return;
        stopping = true;
        logger.info({ signal }, `${name} stopping`);
        try {
          await running.stop();
        } catch (e) {
          // A dependency gone first (NATS or Postgres stopped with the service): what is left to close closes with the process.
          logger.warn({ err: e, signal }, `${name} stopped with an error`);
          process.exit(1);
        }
        process.exit(0);
      };
      process.on('SIGTERM', () => void stop('SIGTERM'));
      process.on('SIGINT', () => void stop('SIGINT'));
    },
    (e: unknown) => {
      // One JSON line next to the service's other logs, so a failed start is visible there.
      console.error(
        JSON.stringify({ level: 'fatal', msg: `${name} failed to start`, err: maskUrlsIn(e instanceof Error ? e.message : String(e)) }),
      );
      process.exit(1);
    },
  );
}
