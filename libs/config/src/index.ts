export { ConfigError, type ConfigProblem } from './errors.ts';
export { parseDuration, parseBytes, readBytes, readDuration } from './units/index.ts';
export { zDuration, zBytes, zPort, zUrl } from './zod.ts';
export { loadConfig } from './load.ts';
export { SERVICE_NODE_FLAGS } from './node-options.ts';
export { maskUrl, maskUrlsIn, MASK } from './secrets.ts';
export { grpcClientShape, grpcSecurityShape } from './grpc.ts';
export { consumerTuningShape, parseConsumerTuning, type ConsumerTuning } from './consumers.ts';
