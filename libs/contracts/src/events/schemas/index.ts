import { EXECUTOR_SERVICE } from '../executor.ts';
import { INVENTORY_SERVICE } from '../inventory.ts';
import { MIGRATION_SERVICE } from '../migration.ts';
import { TELEMETRY_SERVICE } from '../../telemetry.ts';
import type { EventCatalog } from './catalog.ts';
import { balancerEventDefinitions, evacuationEventDefinitions } from './evacuation.ts';
import { executorEventDefinitions } from './executor.ts';
import { inventoryEventDefinitions } from './inventory.ts';
import { migrationEventDefinitions } from './migration.ts';
import { telemetryEventDefinitions } from './telemetry.ts';

export * from './catalog.ts';
export { objectOf, type ShapeOf } from './define.ts';
export { claimSchema, hostCapacitySchema, vmSpecSchema } from './model.ts';
export { diskIoTuneSchema, hostSampleSchema, isDiskIoTuneList, isStatRecord } from './telemetry.ts';
export {
  inventoryEventDefinitions,
  executorEventDefinitions,
  migrationEventDefinitions,
  evacuationEventDefinitions,
  balancerEventDefinitions,
  telemetryEventDefinitions,
};

/** Every event Berth publishes on JetStream, by service: what consumers check at their edge. */
export const eventCatalog: EventCatalog = {
  [INVENTORY_SERVICE]: inventoryEventDefinitions,
  [EXECUTOR_SERVICE]: executorEventDefinitions,
  // The migration service publishes three stream types: migration-, evacuation- and balancer-<id>.
  [MIGRATION_SERVICE]: { ...migrationEventDefinitions, ...evacuationEventDefinitions, ...balancerEventDefinitions },
  [TELEMETRY_SERVICE]: telemetryEventDefinitions,
};
export { eventGuard, isInventoryEvent, isExecutorEvent, isMigrationEvent, isEvacuationEvent, isBalancerEvent } from './narrow.ts';
