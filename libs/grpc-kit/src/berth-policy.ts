import type { Role, RpcPolicy } from './policy.ts';

/**
 * Berth's one authorisation table: every RPC of every service, keyed by its fully-qualified name.
 * `policy.unit.spec.ts` walks the service descriptors and fails when an RPC is missing here (or an
 * entry names no RPC). docs/security.md explains the choices; `npm run security:policy` prints it.
 */
const OPERATOR: readonly Role[] = ['operator'];
const VM_OPERATION: readonly Role[] = ['client', 'operator'];
/** Reads of a VM: its owner, operators, and the services that place and move VMs. */
const VM_READ: readonly Role[] = ['client', 'operator', 'service:scheduler', 'service:migration'];
/** Reads of the fleet (hosts, hardware): operators and Berth's services, never client platforms. */
const FLEET_READ: readonly Role[] = ['operator', 'service'];
const CLAIMS: readonly Role[] = ['service:scheduler', 'service:migration'];
const MIGRATION_SERVICE: readonly Role[] = ['service:migration'];
const EVERY_AUTHENTICATED: readonly Role[] = ['authenticated'];

const INV = 'berth.inventory.v1.InventoryService';
const SCH = 'berth.scheduler.v1.SchedulerService';
const MIG = 'berth.migration.v1.MigrationService';
const TEL = 'berth.telemetry.v1.TelemetryService';
const EXE = 'berth.executor.v1.ExecutorService';

export const BERTH_RPC_POLICY: RpcPolicy = Object.freeze({
  // Inventory: host registration, host state and hardware config only from operators; the
  // migration service also sets a host's state (maintenance when a drain starts, the state before
  // it when the drain is cancelled).
  [`${INV}/RegisterHost`]: OPERATOR,
  [`${INV}/UpdateHost`]: OPERATOR,
  [`${INV}/RemoveHost`]: OPERATOR,
  [`${INV}/SetHostState`]: ['operator', 'service:migration'],
  [`${INV}/ApplyHardwareConfig`]: OPERATOR,
  [`${INV}/GetHost`]: FLEET_READ,
  [`${INV}/ListHosts`]: FLEET_READ,
  [`${INV}/ListHostSnapshots`]: FLEET_READ,
  [`${INV}/GetHardwareConfig`]: FLEET_READ,
  // VM operations: clients (their projects' VMs, see "Projects and quotas") and operators.
  [`${INV}/ComposeVm`]: VM_OPERATION,
  [`${INV}/DeleteVm`]: VM_OPERATION,
  [`${INV}/StartVm`]: VM_OPERATION,
  [`${INV}/StopVm`]: VM_OPERATION,
  [`${INV}/RebootVm`]: VM_OPERATION,
  [`${INV}/GetVm`]: VM_READ,
  [`${INV}/ListVms`]: VM_READ,
  [`${INV}/WatchVm`]: VM_READ,
  // Projects, quotas and client bindings: operators manage them; a client reads its own projects
  // (the handler answers NOT_FOUND for the others, docs/security.md "Projects and quotas").
  [`${INV}/CreateProject`]: OPERATOR,
  [`${INV}/SetProjectQuota`]: OPERATOR,
  [`${INV}/BindIdentity`]: OPERATOR,
  [`${INV}/UnbindIdentity`]: OPERATOR,
  [`${INV}/GetProject`]: VM_OPERATION,
  [`${INV}/ListProjects`]: VM_OPERATION,
  // Claims: only the services that place (scheduler) and move (migration) VMs.
  [`${INV}/ClaimResources`]: CLAIMS,
  [`${INV}/ClaimResourcesBatch`]: CLAIMS,
  [`${INV}/ReleaseClaim`]: CLAIMS,
  [`${INV}/ReportPlacementFailed`]: ['service:scheduler'],
  [`${INV}/BeginVmMigration`]: MIGRATION_SERVICE,
  [`${INV}/CompleteVmMigration`]: MIGRATION_SERVICE,
  [`${INV}/AbortVmMigration`]: MIGRATION_SERVICE,
  // Scheduler: scores for the migration service; explanations and what-ifs for operators.
  [`${SCH}/Score`]: ['service:migration', 'operator'],
  [`${SCH}/Explain`]: OPERATOR,
  [`${SCH}/WhatIf`]: OPERATOR,
  // Migration, evacuation, balancing: fleet operations.
  [`${MIG}/MigrateVm`]: OPERATOR,
  [`${MIG}/CancelMigration`]: OPERATOR,
  [`${MIG}/ResumeMigration`]: OPERATOR,
  [`${MIG}/GetMigration`]: OPERATOR,
  [`${MIG}/ListMigrations`]: OPERATOR,
  [`${MIG}/WatchMigration`]: OPERATOR,
  [`${MIG}/ListMigrationDestinations`]: OPERATOR,
  [`${MIG}/PlanEvacuation`]: OPERATOR,
  [`${MIG}/StartEvacuation`]: OPERATOR,
  [`${MIG}/CancelEvacuation`]: OPERATOR,
  [`${MIG}/GetEvacuation`]: OPERATOR,
  [`${MIG}/GetBalancerPolicy`]: OPERATOR,
  [`${MIG}/SetBalancerPolicy`]: OPERATOR,
  [`${MIG}/BalancerDryRun`]: OPERATOR,
  [`${MIG}/BalancerRunNow`]: OPERATOR,
  [`${MIG}/ExplainBalancerRun`]: OPERATOR,
  // Telemetry: memory-overcommit policy and its decisions.
  [`${TEL}/ApplyPolicy`]: OPERATOR,
  [`${TEL}/ShowPolicy`]: OPERATOR,
  [`${TEL}/GetHostTelemetry`]: OPERATOR,
  [`${TEL}/ListDecisions`]: OPERATOR,
  [`${TEL}/ReplayDecision`]: OPERATOR,
  // Executor: what runs where, and a reconciliation pass.
  [`${EXE}/ListDomains`]: ['operator', 'service:migration'],
  [`${EXE}/GetVmRuntime`]: ['operator', 'service:migration'],
  [`${EXE}/Reconcile`]: OPERATOR,
  // Health and reflection: anyone with a Berth identity (unauthenticated only on plaintext loopback).
  'grpc.health.v1.Health/Check': EVERY_AUTHENTICATED,
  'grpc.health.v1.Health/List': EVERY_AUTHENTICATED,
  'grpc.health.v1.Health/Watch': EVERY_AUTHENTICATED,
  'grpc.reflection.v1.ServerReflection/ServerReflectionInfo': EVERY_AUTHENTICATED,
  'grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo': EVERY_AUTHENTICATED,
});
