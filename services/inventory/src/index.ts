export { startInventory, ensureDatabase, type RunningInventory } from './service.ts';
export { loadInventoryConfig, inventoryConfigSchema, type InventoryConfig } from './config.ts';
