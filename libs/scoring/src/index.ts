export { compileCurve, evaluateCurve, type CurveFn } from './curves.ts';
export { CompiledCostFunction, NO_COST, type CostBreakdown, type CostInputs } from './cost.ts';
export { HostView, type CostConfig } from './view.ts';
export { schedule, type Candidate, type ScheduleOptions, type ScheduleResult, type WeightBreakdown } from './schedule.ts';
export { ScheduleCache, placementShape, type ScheduleCacheOptions } from './schedule-cache.ts';
export { explainFailure, type FailureExplanation, type RemovalGroup, type RemovalReason } from './explain.ts';
export { formatExplanation, formatQuantity } from './format.ts';
export { whatIf, howManyFit, type WhatIfResult } from './whatif.ts';
export { DEFAULT_WEIGHTS, type PlacementPolicy, type Weights } from './weights.ts';
