export * from './events/envelope.ts';
export * as inventoryV1 from './inventory-v1.ts';
