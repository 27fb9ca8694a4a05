export * from './model.ts';
export { planEvacuation, isPinned, allocationLoad, byStartOrder, PERFORMANCE_WARNING, PINNED_WEIGHT } from './plan.ts';
