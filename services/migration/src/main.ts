import '@berth/observability/register';
import { maskUrlsIn } from '@berth/config';
import { createLogger } from '@berth/observability';
import { loadMigrationConfig } from './config.ts';
import { startMigration } from './service.ts';

/** The composition root: parse config once, start the service, stop cleanly on a signal. */
async function main(): Promise<void> {
  const config = loadMigrationConfig();
  const logger = createLogger('migration');
  const running = await startMigration(config, logger);
  logger.info({ port: running.port, prefix: config.NATS_PREFIX }, 'migration serving');
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'migration stopping');
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(
    JSON.stringify({ level: 'fatal', msg: 'migration failed to start', err: maskUrlsIn(e instanceof Error ? e.message : String(e)) }),
  );
  process.exit(1);
});
