import '@berth/observability/register';
import { runService } from '@berth/observability';
import { loadExecutorConfig } from './config.ts';
import { startExecutor } from './service.ts';

// Signals only: the config and the composition root are config.ts and service.ts.
runService('placement-executor', async (logger) => {
  const config = loadExecutorConfig();
  const running = await startExecutor(config, logger);
  logger.info({ port: running.port, prefix: config.NATS_PREFIX, realm: config.EXECUTOR_REALM }, 'placement-executor serving');
  return running;
});
