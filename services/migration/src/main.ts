import '@berth/observability/register';
import { runService } from '@berth/observability';
import { loadMigrationConfig } from './config.ts';
import { startMigration } from './service.ts';

// Signals only: the config and the composition root are config.ts and service.ts.
runService('migration', async (logger) => {
  const config = loadMigrationConfig();
  const running = await startMigration(config, logger);
  logger.info({ port: running.port, prefix: config.NATS_PREFIX }, 'migration serving');
  return running;
});
