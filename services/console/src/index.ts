export { startConsole, DEFAULT_ASSETS_DIR, type RunningConsole } from './service.ts';
export { loadConsoleConfig, consoleConfigSchema, isLoopback, type ConsoleConfig } from './config.ts';
export { ensureConsoleAssets, assetsStale } from './build.ts';
export type * from './api.ts';
