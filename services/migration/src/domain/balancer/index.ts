export * from './model.ts';
export * from './policy.ts';
export * from './pressure.ts';
export { balance } from './run.ts';
