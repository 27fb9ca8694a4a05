// gRPC's richer error model (google.rpc.Status with typed details), generated from proto/google/rpc.
export { Status } from './gen/google/rpc/status.ts';
export { BadRequest, BadRequest_FieldViolation, QuotaFailure, QuotaFailure_Violation } from './gen/google/rpc/error_details.ts';
export { Any } from './gen/google/protobuf/any.ts';
