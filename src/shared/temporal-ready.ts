// Whether a Temporal frontend answers DescribeNamespace for a namespace: one gRPC call over
// node:http2 with the request encoded by hand (one string field). Used to wait for a dev server
// by processes that otherwise need no Temporal client: loading @temporalio/client (grpc-js,
// protobufjs and the whole API's descriptors) kept ~35 MB resident in the `outpost dev`
// supervisor for its lifetime (bench/footprint-dev.ts).
import { connect } from 'node:http2';

const METHOD = '/temporal.api.workflowservice.v1.WorkflowService/DescribeNamespace';

/** A gRPC frame of DescribeNamespaceRequest { namespace = 1 }. */
export function describeNamespaceFrame(namespace: string): Buffer {
  const name = Buffer.from(namespace, 'utf8');
  const len: number[] = [];
  for (let n = name.length; ; n >>>= 7) {
    if (n < 0x80) {
      len.push(n);
      break;
    }
    len.push((n & 0x7f) | 0x80);
  }
  const message = Buffer.concat([Buffer.from([0x0a, ...len]), name]);
  const header = Buffer.alloc(5);
  header.writeUInt32BE(message.length, 1); // byte 0: not compressed
  return Buffer.concat([header, message]);
}

/** Resolves when the call succeeds (grpc-status 0); rejects with the reason otherwise. */
export function describeNamespaceOk(address: string, namespace: string, timeoutMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const session = connect(`http://${address}`);
    const timer = setTimeout(() => fail(new Error(`no answer from ${address} in ${timeoutMs} ms`)), timeoutMs);
    let done = false;
    function fail(err: Error): void {
      finish(() => reject(err));
    }
    function finish(then: () => void): void {
      if (done) return;
      done = true;
      clearTimeout(timer);
      session.close();
      session.destroy();
      then();
    }
    session.on('error', (err: Error) => fail(err));
    const req = session.request({
      ':method': 'POST',
      ':path': METHOD,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let status: string | undefined;
    let message = '';
    const take = (h: Record<string, string | string[] | number | undefined>): void => {
      const s = h['grpc-status'];
      const m = h['grpc-message'];
      if (s !== undefined) status = String(s);
      if (m !== undefined) message = decodeURIComponent(String(m));
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined); // the answer's body is not needed
    req.on('error', (err: Error) => fail(err));
    req.on('close', () => {
      if (status === '0') finish(resolve);
      else fail(new Error(`DescribeNamespace ${namespace}: grpc-status ${status ?? 'none'} ${message}`.trim()));
    });
    req.end(describeNamespaceFrame(namespace));
  });
}
