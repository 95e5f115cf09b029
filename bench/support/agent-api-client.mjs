// The agent-api-cpu bench's client, a process of its own (its CPU is not the control plane's):
// POSTs pre-built NDJSON event batches or raw log chunks to /agent/events or /agent/logs over
// kept-alive node:http with `inFlight` requests at a time, as the agent's shipper does. Prints
// "ready" once its bodies are built, starts on the first byte of stdin, exits 0 when every
// answer was a 200 (else prints the answer and exits 1).
import { Buffer } from 'node:buffer';
import http from 'node:http';

const [url, token, agentId, runId, kind, from, count, size, inFlight] = process.argv.slice(2);
const agent = new http.Agent({ keepAlive: true });
const line = (seq) =>
  `{"seq":${seq},"timestamp":${1_700_000_000_000 + seq},"type":"LOG","stepKey":"chatter","level":"info","message":"chatter","data":{"i":${seq}}}`;
const q = `agentId=${agentId}&runId=${runId}`;
const bodies = [];
if (kind === 'events') {
  for (let s = +from; s < +from + +count; s += +size) {
    const lines = [];
    for (let i = s; i < Math.min(s + +size, +from + +count); i++) lines.push(line(i));
    bodies.push({ path: `/agent/events?${q}`, body: Buffer.from(lines.join('\n') + '\n') });
  }
} else {
  const chunk = Buffer.alloc(+size, 'x');
  for (let k = 0; k < +count; k++)
    bodies.push({ path: `/agent/logs?${q}&stream=stdout&offset=${+from + k * +size}`, body: chunk });
}
const type = kind === 'events' ? 'application/x-ndjson' : 'application/octet-stream';
let next = 0;
let active = 0;
let done = 0;
function send() {
  while (active < +inFlight && next < bodies.length) {
    const { path, body } = bodies[next++];
    active++;
    const headers = { authorization: `Bearer ${token}`, 'content-type': type, 'content-length': body.length };
    const req = http.request(`${url}${path}`, { method: 'POST', agent, headers }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) {
          console.error(Buffer.concat(parts).toString());
          process.exit(1);
        }
        active--;
        if (++done === bodies.length) process.exit(0);
        send();
      });
    });
    req.on('error', (err) => {
      console.error(err.message);
      process.exit(1);
    });
    req.end(body);
  }
}
process.stdin.once('data', send);
process.stdout.write('ready');
