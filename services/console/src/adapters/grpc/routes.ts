import * as grpc from '@grpc/grpc-js';
import { inventoryV1 as inv, migrationV1 as mig, schedulerV1 as sch, telemetryV1 as tel } from '@berth/contracts';
import type { MethodName, ServiceName } from '../../api.ts';

/** A unary method of a generated service definition: its path and wire codec. */
interface UnaryDefinition<Req, Res> {
  readonly path: string;
  readonly requestSerialize: (request: Req) => Buffer;
  readonly responseDeserialize: (bytes: Buffer) => Res;
}

/** A call ready to go out on a service's client. */
export type PreparedCall = (client: grpc.Client, options: grpc.CallOptions) => Promise<unknown>;

/** One console route: the browser's JSON body becomes the generated request, sent to the method. */
export interface Route {
  /** Decodes the body with ts-proto's `fromJSON` (absent fields take their defaults); throws on a body that is none. */
  prepare(body: unknown): PreparedCall;
}

/**
 * A route from a method's definition and its request message. Typed end to end: the message the body
 * decodes to is the one the definition serialises (a mismatch does not compile).
 */
function route<Req, Res>(definition: UnaryDefinition<Req, Res>, message: { fromJSON(object: unknown): Req }): Route {
  return {
    prepare(body) {
      const request = message.fromJSON(body ?? {});
      return (client, options) =>
        new Promise((resolve, reject) => {
          const { path, requestSerialize, responseDeserialize } = definition;
          client.makeUnaryRequest(path, requestSerialize, responseDeserialize, request, new grpc.Metadata(), options, (err, res) =>
            err ? reject(err) : resolve(res),
          );
        });
    },
  };
}

const I = inv.InventoryServiceService;
const S = sch.SchedulerServiceService;
const M = mig.MigrationServiceService;
const T = tel.TelemetryServiceService;

/** Every method the console forwards, per service; the type makes it list exactly CONSOLE_METHODS. */
export const ROUTES: { readonly [K in ServiceName]: { readonly [N in MethodName<K>]: Route } } = {
  inventory: {
    listHosts: route(I.listHosts, inv.ListHostsRequest),
    getHost: route(I.getHost, inv.GetHostRequest),
    listVms: route(I.listVms, inv.ListVmsRequest),
    getVm: route(I.getVm, inv.GetVmRequest),
    composeVm: route(I.composeVm, inv.ComposeVmRequest),
    deleteVm: route(I.deleteVm, inv.DeleteVmRequest),
    startVm: route(I.startVm, inv.StartVmRequest),
    stopVm: route(I.stopVm, inv.StopVmRequest),
    rebootVm: route(I.rebootVm, inv.RebootVmRequest),
    setHostState: route(I.setHostState, inv.SetHostStateRequest),
  },
  scheduler: {
    score: route(S.score, sch.ScoreRequest),
    explain: route(S.explain, sch.ExplainRequest),
    whatIf: route(S.whatIf, sch.WhatIfRequest),
  },
  migration: {
    migrateVm: route(M.migrateVm, mig.MigrateVmRequest),
    cancelMigration: route(M.cancelMigration, mig.CancelMigrationRequest),
    listMigrations: route(M.listMigrations, mig.ListMigrationsRequest),
    getMigration: route(M.getMigration, mig.GetMigrationRequest),
    listMigrationDestinations: route(M.listMigrationDestinations, mig.ListMigrationDestinationsRequest),
    planEvacuation: route(M.planEvacuation, mig.PlanEvacuationRequest),
    startEvacuation: route(M.startEvacuation, mig.StartEvacuationRequest),
    cancelEvacuation: route(M.cancelEvacuation, mig.CancelEvacuationRequest),
    getEvacuation: route(M.getEvacuation, mig.GetEvacuationRequest),
  },
  telemetry: {
    getHostTelemetry: route(T.getHostTelemetry, tel.GetHostTelemetryRequest),
    listDecisions: route(T.listDecisions, tel.ListDecisionsRequest),
  },
};

/** The route of `service/method` as the URL names them, if the console forwards it. */
export function routeOf(service: string, method: string): { service: ServiceName; route: Route } | undefined {
  return byPath.get(`${service}/${method}`);
}

const byPath = new Map<string, { service: ServiceName; route: Route }>();
for (const service of Object.keys(ROUTES) as ServiceName[])
  for (const [method, r] of Object.entries(ROUTES[service])) byPath.set(`${service}/${method}`, { service, route: r });
