import '@berth/observability/register';
import { runService } from '@berth/observability';
import { loadTelemetryConfig } from './config.ts';
import { startTelemetry } from './service.ts';

// Signals only: the config and the composition root are config.ts and service.ts.
runService('telemetry', async (logger) => {
  const config = loadTelemetryConfig();
  const running = await startTelemetry(config, logger);
  logger.info({ port: running.port, prefix: config.NATS_PREFIX }, 'telemetry serving');
  return running;
});
