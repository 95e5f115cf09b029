// Promise wrappers over the generated gRPC client of a code server, each call with a deadline.
// UNAVAILABLE (server restarting, port changed, or gone mid-call) is retried by the caller
// through the manager, which hands out a fresh client for the location's current server.
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

/**
 * grpc-js's own words for a call that ended with no gRPC status because the peer went away:
 * the stream closed without trailers (a process killed mid-call leaves exactly this when the
 * stream's close is seen before the connection's), or a socket error under the stream.
 */
const PEER_GONE = [
  /^Received RST_STREAM with code 0 \(Call ended without gRPC status\)$/,
  /^Received RST_STREAM with code \d+ triggered by internal client error: .*\b(EPIPE|ECONNRESET|ECONNABORTED|ETIMEDOUT)\b/,
];

/**
 * Whether a failed call is a transport failure caused by the server going away (retriable
 * against the restarted server) rather than an answer the server gave. We never cancel our
 * own calls (deadlines are DEADLINE_EXCEEDED), so CANCELLED can only come from the peer or the
 * connection. A status the server sent, or a message that fails to parse, is not one.
 */
export function isPeerGone(err: Pick<ServiceError, 'code' | 'details'>): boolean {
  if (err.code === GrpcStatus.UNAVAILABLE || err.code === GrpcStatus.CANCELLED) return true;
  return err.code === GrpcStatus.INTERNAL && PEER_GONE.some((re) => re.test(err.details ?? ''));
}

export function grpcToOutpost(err: ServiceError, method: string, timeoutMs: number): OutpostError {
  const detail = `${method}: ${err.details || err.message}`;
  if (isPeerGone(err)) {
    return new OutpostError('CODE_SERVER_UNAVAILABLE', { detail, cause: err, data: { grpc: GrpcStatus[err.code] } });
  }
  switch (err.code) {
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
