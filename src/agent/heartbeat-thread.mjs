// The agent's heartbeat, sent from a thread of its own. The agent's main thread can be runnable
// but unscheduled for seconds while a burst of run workers boots (bench/concurrency: 60 s of a
// 71 s burst), and a heartbeat queued behind it arrives late enough to look like a dead agent.
// This thread does nothing else, so it is scheduled as soon as the agent's process is: the
// beat says "this process is alive", which is what the control plane uses it for. The main
// thread posts the latest status (code servers, running runs) whenever it can.
//
// Plain JavaScript on purpose: worker threads do not inherit tsx's loader. node:http, not fetch:
// a thread is an isolate of its own, and undici's modules loaded in it cost ~8 MB of the agent's
// idle RSS (measured: a thread posting with fetch +17 MB, with node:http +8 MB). Messages:
//   in:  { type: 'state', input }   the HeartbeatInput to send from now on
//        { type: 'stop' }
//   out: { type: 'beat', ok: true } | { type: 'beat', ok: false, message }
/* global AbortSignal */
import { Buffer } from 'node:buffer';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { setInterval, clearInterval } from 'node:timers';
import { parentPort, workerData } from 'node:worker_threads';

/** @type {{ endpoint: string, token: string, intervalMs: number, timeoutMs: number, input: unknown }} */
const config = workerData;
let input = config.input;
const QUERY = 'mutation($input: HeartbeatInput!) { heartbeat(input: $input) }';
const url = new URL(config.endpoint);
// node:https only for an https control plane: it loads TLS.
const { Agent, request } =
  url.protocol === 'https:' ? await import('node:https') : { Agent: HttpAgent, request: httpRequest };
// One kept-alive connection, as fetch kept it.
const agent = new Agent({ keepAlive: true, maxSockets: 1 });

/** POSTs `body`; resolves with the status and the answer's text. */
function post(body) {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        agent,
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${config.token}`,
        },
        signal: AbortSignal.timeout(config.timeoutMs),
      },
      (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** One heartbeat request; throws with `transient` set when the connection or the server failed. */
async function send() {
  let res;
  try {
    res = await post(JSON.stringify({ query: QUERY, variables: { input } }));
  } catch (err) {
    throw Object.assign(new Error(`heartbeat request failed: ${err?.cause?.message ?? err?.message ?? err}`), {
      transient: true,
    });
  }
  if (res.status >= 500) throw Object.assign(new Error(`heartbeat: HTTP ${res.status}`), { transient: true });
  let body;
  try {
    body = JSON.parse(res.text);
  } catch {
    throw new Error(`heartbeat: HTTP ${res.status}, not JSON`);
  }
  if (res.status < 200 || res.status > 299 || body.errors?.length) {
    const first = body.errors?.[0];
    throw new Error(`heartbeat refused: ${first?.extensions?.code ?? res.status} ${first?.message ?? ''}`.trim());
  }
}

async function beat() {
  try {
    try {
      await send();
    } catch (err) {
      // A beat lost in transport (e.g. a reused keep-alive socket the server had just closed) is
      // sent again at once rather than an interval later.
      if (!err.transient) throw err;
      await send();
    }
    parentPort.postMessage({ type: 'beat', ok: true });
  } catch (err) {
    parentPort.postMessage({ type: 'beat', ok: false, message: String(err?.message ?? err) });
  }
}

let sending = false;
const tick = () => {
  if (sending) return; // one at a time: a slow control plane gets no pile of beats
  sending = true;
  void beat().finally(() => {
    sending = false;
  });
};
const timer = setInterval(tick, config.intervalMs);
tick();

parentPort.on('message', (m) => {
  if (m?.type === 'state') input = m.input;
  else if (m?.type === 'stop') {
    clearInterval(timer);
    agent.destroy();
    parentPort.close();
  }
});
