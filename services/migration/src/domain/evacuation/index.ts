export * from './model.ts';
export { planEvacuation, isPinned, allocationLoad, byStartOrder, PERFORMANCE_WARNING, PINNED_WEIGHT } from './plan.ts';
export * from './events.ts';
export * from './state.ts';
export { decideEvacuation, type EvacuationCommand } from './decide.ts';
