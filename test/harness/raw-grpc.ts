/** A gRPC client that sends bytes as they are (no codec), for fuzzing: the answer's status is what counts. */
import * as grpc from '@grpc/grpc-js';
import type { ClientTls } from '@berth/grpc-kit';

export interface RawAnswer {
  readonly code: grpc.status;
  readonly details: string;
  readonly millis: number;
}

const identity = (b: Buffer): Buffer => b;

export class RawGrpcClient {
  private readonly client: grpc.Client;
  /** `tls`: the identity to call as (the harness's TLS mode); plaintext without. */
  constructor(address: string, tls?: ClientTls) {
    const pem = (v: string | Buffer | undefined): Buffer | null => (v === undefined ? null : Buffer.from(v));
    const credentials = tls ? grpc.credentials.createSsl(pem(tls.ca), pem(tls.key), pem(tls.cert)) : grpc.credentials.createInsecure();
    this.client = new grpc.Client(address, credentials);
  }

  /** A unary call of `path` (`/pkg.Service/Method`) with `body` as the request's wire bytes. */
  unary(path: string, body: Uint8Array, deadlineMillis: number): Promise<RawAnswer> {
    const started = Date.now();
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        path,
        identity,
        identity,
        Buffer.from(body),
        new grpc.Metadata(),
        { deadline: Date.now() + deadlineMillis },
        (err: grpc.ServiceError | null) =>
          resolve({ code: err ? err.code : grpc.status.OK, details: err?.details ?? '', millis: Date.now() - started }),
      );
    });
  }

  /** A server-streaming call, cancelled after its first message or `windowMillis`: the status of what came before. */
  stream(path: string, body: Uint8Array, windowMillis: number): Promise<RawAnswer> {
    const started = Date.now();
    return new Promise((resolve) => {
      const call = this.client.makeServerStreamRequest(path, identity, identity, Buffer.from(body), new grpc.Metadata(), {
        deadline: Date.now() + windowMillis + 10_000,
      });
      let settled = false;
      const done = (a: RawAnswer): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(a);
        call.cancel();
      };
      const timer = setTimeout(
        () => done({ code: grpc.status.OK, details: 'still streaming', millis: Date.now() - started }),
        windowMillis,
      );
      call.on('data', () => done({ code: grpc.status.OK, details: 'streamed', millis: Date.now() - started }));
      call.on('error', (e: grpc.ServiceError) => done({ code: e.code, details: e.details, millis: Date.now() - started }));
      call.on('status', (s: grpc.StatusObject) => done({ code: s.code, details: s.details, millis: Date.now() - started }));
    });
  }

  close(): void {
    this.client.close();
  }
}
