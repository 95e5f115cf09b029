// Promise wrappers over the generated gRPC client of a code server, each call with a deadline.
// UNAVAILABLE (server restarting, port changed) is retried by the caller through the manager,
// which hands out a fresh client for the location's current server.
import { credentials, Metadata, status as GrpcStatus, type ServiceError } from '@grpc/grpc-js';
import {
  CodeServerServiceClient,
  type CodeServerServiceClient as Client,
} from '../gen/outpost/codeserver/v1/code_server.js';
import { OutpostError } from '../shared/errors.js';

export type CodeServerClient = Client;

export function connectCodeServer(port: number): CodeServerClient {
  return new CodeServerServiceClient(`127.0.0.1:${port}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
  });
}

type UnaryMethod<Req, Res> = (
  req: Req,
  md: Metadata,
  opts: { deadline: Date },
  cb: (err: ServiceError | null, res: Res) => void,
) => unknown;

/** Calls one unary method with a deadline, mapping gRPC failures to coded errors. */
export function unary<Req, Res>(
  client: CodeServerServiceClient,
  method: keyof CodeServerServiceClient,
  request: Req,
  timeoutMs: number,
): Promise<Res> {
  const fn = (client[method] as unknown as UnaryMethod<Req, Res>).bind(client);
  return new Promise((resolve, reject) => {
    fn(request, new Metadata(), { deadline: new Date(Date.now() + timeoutMs) }, (err, res) => {
      if (err) reject(grpcToOutpost(err, method, timeoutMs));
      else resolve(res);
    });
  });
}

export function grpcToOutpost(err: ServiceError, method: string, timeoutMs: number): OutpostError {
  const detail = `${method}: ${err.details || err.message}`;
  switch (err.code) {
    case GrpcStatus.UNAVAILABLE:
      return new OutpostError('CODE_SERVER_UNAVAILABLE', { detail, cause: err, data: { grpc: 'UNAVAILABLE' } });
    case GrpcStatus.DEADLINE_EXCEEDED:
      return new OutpostError('USER_CODE_TIMEOUT', {
        detail: `${method} took longer than ${timeoutMs} ms`,
        cause: err,
      });
    case GrpcStatus.NOT_FOUND:
      return new OutpostError('INVALID_ARGUMENT', { detail, cause: err });
    case GrpcStatus.FAILED_PRECONDITION:
      return new OutpostError('LOCATION_NOT_LOADED', { detail, cause: err });
    case GrpcStatus.INVALID_ARGUMENT:
      return new OutpostError('INVALID_ARGUMENT', { detail, cause: err });
    default:
      return new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail, cause: err });
  }
}
