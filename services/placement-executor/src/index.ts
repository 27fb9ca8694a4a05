export { startExecutor, type RunningExecutor, type RunningSimExecutor, type ExecutorOverrides } from './service.ts';
export { loadExecutorConfig, executorConfigSchema, type ExecutorConfig } from './config.ts';
