export { startInventory, type RunningInventory } from './service.ts';
export { loadInventoryConfig, inventoryConfigSchema, type InventoryConfig } from './config.ts';
