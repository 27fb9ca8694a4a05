import '@berth/observability/register';
import { maskUrlsIn } from '@berth/config';
import { createLogger } from '@berth/observability';
import { loadExecutorConfig } from './config.ts';
import { startExecutor } from './service.ts';

/** The composition root: parse config once, start the service, stop cleanly on a signal. */
async function main(): Promise<void> {
  const config = loadExecutorConfig();
  const logger = createLogger('placement-executor');
  const running = await startExecutor(config, logger);
  logger.info({ port: running.port, prefix: config.NATS_PREFIX, realm: config.EXECUTOR_REALM }, 'placement-executor serving');
  let stopping = false;
  const stop = async (signal: string): Promise<void> => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'placement-executor stopping');
    await running.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}

main().catch((e: unknown) => {
  console.error(
    JSON.stringify({
      level: 'fatal',
      msg: 'placement-executor failed to start',
      err: maskUrlsIn(e instanceof Error ? e.message : String(e)),
    }),
  );
  process.exit(1);
});
