export * from './events/envelope.ts';
export * as inventoryV1 from './inventory-v1.ts';
export * as inventoryEvents from './events/inventory.ts';
