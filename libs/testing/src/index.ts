export * from './infra.ts';
export { exited, freePort, isProductionLine, NATS_SERVER_BIN, natsServerBinVersion, PrivateNatsServer } from './nats-server.ts';
