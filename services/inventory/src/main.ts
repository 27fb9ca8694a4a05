import '@berth/observability/register';
import { runService } from '@berth/observability';
import { loadInventoryConfig } from './config.ts';
import { startInventory } from './service.ts';

// Signals only: the config and the composition root are config.ts and service.ts.
runService('inventory', async (logger) => {
  const config = loadInventoryConfig();
  const inventory = await startInventory(config, logger);
  logger.info({ port: inventory.port, prefix: config.NATS_PREFIX }, 'inventory serving');
  return inventory;
});
