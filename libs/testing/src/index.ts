export * from './infra.ts';
export { exited, freePort, NATS_SERVER_210_BIN, NATS_SERVER_BIN, PrivateNatsServer } from './nats-server.ts';
