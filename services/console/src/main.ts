import '@berth/observability/register';
import { runService } from '@berth/observability';
import { ensureConsoleAssets } from './build.ts';
import { loadConsoleConfig } from './config.ts';
import { startConsole } from './service.ts';

// Signals only: the config and the composition root are config.ts and service.ts (the UI is built
// first when its sources changed, unless CONSOLE_ASSETS_DIR names a built one).
runService('console', async (logger) => {
  const config = loadConsoleConfig();
  if (!config.CONSOLE_ASSETS_DIR) await ensureConsoleAssets((msg) => logger.info(msg));
  const running = await startConsole(config, logger);
  logger.info({ url: running.url, prefix: config.NATS_PREFIX }, `console serving at ${running.url}`);
  return running;
});
