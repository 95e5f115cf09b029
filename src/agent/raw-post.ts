// POSTs a body to the control plane's raw-body endpoints (/agent/events, /agent/logs) over
// node:http(s) with kept-alive connections. Not fetch: undici copies every body it is handed
// (a 1 MiB log chunk becomes garbage twice) and runs it through web streams; node:http writes
// the Buffer to the socket as it is, about half the CPU per MiB (client and server together).
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';

export interface RawAnswer {
  status: number;
  /** The parsed JSON body, or undefined when it is not JSON. */
  body: unknown;
}

/** Idle kept-alive sockets close after this, well before the control plane's 65 s keep-alive. */
const IDLE_SOCKET_MS = 30_000;

export function createRawPoster(baseUrl: string) {
  const https = baseUrl.startsWith('https:');
  const agent = https
    ? new HttpsAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS })
    : new HttpAgent({ keepAlive: true, timeout: IDLE_SOCKET_MS });
  const send = https ? httpsRequest : httpRequest;

  /** Rejects on a transport failure or `signal`; any HTTP answer resolves. */
  return (url: string, headers: Record<string, string>, body: Buffer, signal: AbortSignal): Promise<RawAnswer> =>
    new Promise((resolve, reject) => {
      const req = send(
        url,
        { method: 'POST', agent, signal, headers: { ...headers, 'content-length': String(body.length) } },
        (res: IncomingMessage) => {
          const parts: Buffer[] = [];
          res.on('data', (c: Buffer) => parts.push(c));
          res.on('error', reject);
          res.on('end', () => {
            let parsed: unknown;
            try {
              parsed = JSON.parse(Buffer.concat(parts).toString('utf8'));
            } catch {
              parsed = undefined;
            }
            resolve({ status: res.statusCode ?? 0, body: parsed });
          });
        },
      );
      req.on('error', reject);
      req.end(body);
    });
}
