export { startScheduler, type RunningScheduler } from './service.ts';
export { loadSchedulerConfig, type SchedulerConfig } from './config.ts';
