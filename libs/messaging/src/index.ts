export { connectNats, nkeyCredentials, type ConnectOptions } from './connect.ts';
export { provisionNats, type ProvisionOptions } from './provision.ts';
export {
  servicePermissions,
  readerPermissions,
  projectReaderPermissions,
  projectReaderUser,
  checkProjectName,
  loadPermissionTable,
  inboxPrefixOf,
  PERMISSIONS_FILE,
  type NatsAuthMode,
  type NatsPermissions,
  type NatsPermissionTable,
  type ServiceNatsGrants,
} from './auth.ts';
export { writeNatsCredentials, readNkey, ADMIN_USER, TEST_USER, type NatsCredentials, type NatsCredentialsOptions } from './auth-files.ts';
export { ensureStreams, type EnsureStreamsOptions, type EnsureStreamsResult, type EnsureOutcome } from './streams.ts';
export {
  loadNatsDefinitions,
  parseNatsDefinitions,
  consumerDefinition,
  STREAMS_FILE,
  CONSUMERS_FILE,
  type NatsDefinitions,
  type StreamDefinition,
  type KvDefinition,
  type ConsumerDefinition,
} from './definitions.ts';
export {
  createEventPublisher,
  BerthHeaders,
  type EventPublisher,
  type PublishableEvent,
  type RawPublishableEvent,
  type PublishableEventHead,
  type PublisherOptions,
  type PublishResult,
} from './publisher.ts';
export { PublishError } from './pub-acks.ts';
export { newestMessageIds, eventStreamOf } from './newest-ids.ts';
export { startConsumer, type ConsumerOptions, type ConsumeContext, type EventHandler, type RunningConsumer } from './consumer.ts';
export { ack, nak, term, type ConsumeResult } from './results.ts';
export { DeadLetterHeaders } from './dead-letter.ts';
export { parseEnvelope, validateEnvelope, envelopeBody, type EnvelopeParse, type RawEventEnvelope } from './envelope.ts';
export { openKv, type JsonKv, type KvEntryJson } from './kv.ts';
export { followWatch, type FollowOptions, type WatchIterator } from './watch.ts';
export {
  streamName,
  subjectName,
  bucketName,
  deadLetterSubject,
  eventSubject,
  streamTypeOf,
  projectOfSubject,
  isProjectScoped,
  PROJECT_SCOPED,
  DEFAULT_PROJECT,
} from './names.ts';
