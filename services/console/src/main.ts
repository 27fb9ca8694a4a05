import '@berth/observability/register';
import { createLogger } from '@berth/observability';
import { ensureConsoleAssets } from './build.ts';
import { loadConsoleConfig } from './config.ts';
import { startConsole } from './service.ts';

/** The composition root: parse config once, build the UI if its sources changed, serve, stop cleanly on a signal. */
async function main(): Promise<void> {
  const config = loadConsoleConfig();
  const logger = createLogger('console');
  if (!config.CONSOLE_ASSETS_DIR) await ensureConsoleAssets((msg) => logger.info(msg));
  const running = await startConsole(config, logger);
  logger.info({ url: running.url, prefix: config.NATS_PREFIX }, `console serving at ${running.url}`);
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'console stopping');
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(JSON.stringify({ level: 'fatal', msg: 'console failed to start', err: e instanceof Error ? e.message : String(e) }));
  process.exit(1);
});
