export * from './model.ts';
export { allocatableVcpus, allocatableMemory, ordinaryMemoryCapacity, normalizePciAddress, hugepageBytes } from './capacity.ts';
export { filterOrder, type FilterName, type FitFailure, type FitResult, type FitUnit } from './failures.ts';
export { hostFilters, networkMatches, describeNetwork } from './filters.ts';
export { fits } from './fits.ts';
export { claimFits, applyClaim, releaseClaim, findClaim } from './claims.ts';
export { usage, addClaimToUsage, type HostUsage, type NumaNodeUsage } from './usage.ts';
export { needsNuma, guestCells } from './numa.ts';
export { hostCapacity, hostSnapshot, vmSpec } from './builders.ts';
