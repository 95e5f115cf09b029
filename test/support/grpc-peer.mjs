// A code-server stand-in for transport tests, run as its own process: it answers the
// CodeServerService/Ping path in one chosen way, including the ways a dying server answers.
//   node grpc-peer.mjs <mode>   prints "PORT <n>" once listening on 127.0.0.1.
// Modes: kill (a real grpc-js server whose handler SIGKILLs its own process mid-call),
// and raw HTTP/2 answers: end-without-status, cancel, drop, garbage, internal.
import { Buffer } from 'node:buffer';
import http2 from 'node:http2';
import { Server, ServerCredentials, status } from '@grpc/grpc-js';

const mode = process.argv[2];
const PING = '/outpost.codeserver.v1.CodeServerService/Ping';
const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;

function listening(port) {
  process.stdout.write(`PORT ${port}\n`);
}

if (mode === 'kill') {
  const server = new Server();
  const passthrough = (b) => b;
  server.addService(
    {
      ping: {
        path: PING,
        requestStream: false,
        responseStream: false,
        requestSerialize: passthrough,
        requestDeserialize: passthrough,
        responseSerialize: passthrough,
        responseDeserialize: passthrough,
      },
    },
    {
      // The request has arrived and the response is pending: die as SIGKILL/OOM would.
      ping: () => process.kill(process.pid, 'SIGKILL'),
    },
  );
  server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) => {
    if (err) throw err;
    listening(port);
  });
} else {
  const server = http2.createServer();
  const sockets = new Set();
  server.on('connection', (s) => sockets.add(s));
  server.on('stream', (stream, headers) => {
    if (headers[':path'] !== PING) {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc', 'grpc-status': String(status.UNIMPLEMENTED) },
        { endStream: true },
      );
      return;
    }
    stream.on('data', () => {});
    stream.on('error', () => {});
    const answer = () => {
      stream.respond(
        { ':status': 200, 'content-type': 'application/grpc' },
        { waitForTrailers: mode === 'garbage' || mode === 'internal' },
      );
      switch (mode) {
        case 'end-without-status': // headers, then the stream ends with no trailers: what a peer's exit leaves
          stream.close(NGHTTP2_NO_ERROR);
          break;
        case 'cancel': // the peer cancels the call it was serving (a server shutting down)
          stream.close(NGHTTP2_CANCEL);
          break;
        case 'drop': // the connection goes away under the call (reset, as a killed host's would)
          sockets.forEach((s) => s.resetAndDestroy());
          break;
        case 'garbage': {
          // A well-framed message whose bytes are not a PingResponse (field 1 claims 100 bytes), status OK.
          const body = Buffer.from([0x0a, 0x64, 0x01]);
          const frame = Buffer.alloc(5 + body.length);
          frame.writeUInt32BE(body.length, 1);
          body.copy(frame, 5);
          stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': String(status.OK) }));
          stream.end(frame);
          break;
        }
        case 'internal': // the server itself answers INTERNAL with a status
          stream.on('wantTrailers', () =>
            stream.sendTrailers({ 'grpc-status': String(status.INTERNAL), 'grpc-message': 'handler blew up' }),
          );
          stream.end();
          break;
        default:
          throw new Error(`unknown mode ${mode}`);
      }
    };
    stream.on('end', answer);
  });
  server.listen(0, '127.0.0.1', () => listening(server.address().port));
}
