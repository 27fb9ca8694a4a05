import * as grpc from '@grpc/grpc-js';

/** A unary handler answering UNIMPLEMENTED (an RPC declared in the proto, not served yet). */
export function unimplementedUnary<Req, Res>(method: string): grpc.handleUnaryCall<Req, Res> {
  return (_call, callback) => callback({ code: grpc.status.UNIMPLEMENTED, details: `${method} is not implemented yet` });
}
