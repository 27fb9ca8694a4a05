import '@berth/observability/register';
import { runService } from '@berth/observability';
import { loadSchedulerConfig } from './config.ts';
import { startScheduler } from './service.ts';

// Signals only: the config and the composition root are config.ts and service.ts.
runService('scheduler', async (logger) => {
  const config = loadSchedulerConfig();
  const running = await startScheduler(config, logger);
  logger.info({ port: running.port, inventory: config.INVENTORY_ADDR, prefix: config.NATS_PREFIX }, 'scheduler serving');
  return running;
});
