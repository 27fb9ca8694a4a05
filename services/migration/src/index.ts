export { startMigration, type RunningMigration, type MigrationOverrides } from './service.ts';
export { loadMigrationConfig, migrationConfigSchema, type MigrationConfig } from './config.ts';
export type { InventoryPort, SchedulerPort } from './application/ports.ts';
