export * from './model.ts';
export * from './policy.ts';
export { balance } from './run.ts';
