export { startTelemetry, type RunningTelemetry, type TelemetryOverrides } from './service.ts';
export { loadTelemetryConfig, telemetryConfigSchema, type TelemetryConfig } from './config.ts';
export { DEFAULT_POLICY_DIR, readPolicyDir } from './adapters/mom/default-policy.ts';
export type { DecisionRecorded } from './application/decisions.ts';
