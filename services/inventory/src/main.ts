import '@berth/observability/register';
import { maskUrlsIn } from '@berth/config';
import { createLogger } from '@berth/observability';
import { loadInventoryConfig } from './config.ts';
import { startInventory } from './service.ts';

/** The composition root: parse config once, start the service, stop it cleanly on a signal. */
async function main(): Promise<void> {
  const config = loadInventoryConfig();
  const logger = createLogger('inventory');
  const inventory = await startInventory(config, logger);
  logger.info({ port: inventory.port, prefix: config.NATS_PREFIX }, 'inventory serving');
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'inventory stopping');
    await inventory.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(
    JSON.stringify({ level: 'fatal', msg: 'inventory failed to start', err: maskUrlsIn(e instanceof Error ? e.message : String(e)) }),
  );
  process.exit(1);
});
