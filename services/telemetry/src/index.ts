export { startTelemetry, type RunningTelemetry, type TelemetryOverrides } from './service.ts';
export { loadTelemetryConfig, telemetryConfigSchema, type TelemetryConfig } from './config.ts';
