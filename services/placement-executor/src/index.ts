export { startExecutor, type RunningExecutor, type ExecutorOverrides } from './service.ts';
export { loadExecutorConfig, executorConfigSchema, type ExecutorConfig } from './config.ts';
