export * from './infra.ts';
export { exited, freePort, isProductionLine, NATS_SERVER_BIN, natsServerBinVersion, PrivateNatsServer } from './nats-server.ts';
export { FaultProxy, type FaultProxyStats, type ProxyTarget } from './fault-proxy.ts';
export { PrivatePostgres, postgresBinDir, unprivilegedUser } from './private-postgres.ts';
export { eventually } from './wait.ts';
export { deletePrefixedStreams, prefixedStreamSequences } from './streams.ts';
