// The run-requests-cpu bench's client over real HTTP, a process of its own (its CPU is not the control
// plane's): for each of `runs` runs, the requests a `noop` run makes of the control plane, in
// order, over kept-alive node:http as the agent sends them (and launchRun as a user would).
// Prints "ready", starts on the first byte of stdin, exits 0 when every answer was a 200.
import { Buffer } from 'node:buffer';
import http from 'node:http';

const [url, userToken, agentToken, agentId, runsArg, documentsJson] = process.argv.slice(2);
const docs = JSON.parse(documentsJson);
const agent = new http.Agent({ keepAlive: true });

function post(path, token, type, body) {
  return new Promise((resolve, reject) => {
    const buf = Buffer.from(body);
    const headers = { authorization: `Bearer ${token}`, 'content-type': type, 'content-length': buf.length };
    const req = http.request(`${url}${path}`, { method: 'POST', agent, headers }, (res) => {
      const parts = [];
      res.on('data', (c) => parts.push(c));
      res.on('end', () => {
        const text = Buffer.concat(parts).toString();
        const json = JSON.parse(text);
        if (res.statusCode !== 200 || json.errors) reject(new Error(`${path}: ${res.statusCode} ${text}`));
        else resolve(json);
      });
    });
    req.on('error', reject);
    req.end(buf);
  });
}
const gql = (path, token, query, variables) =>
  post(path, token, 'application/json', JSON.stringify({ query, variables })).then((r) => r.data);
const ev = (seq, type, extra = '') => `{"seq":${seq},"timestamp":${Date.now()},"type":"${type}"${extra},"message":"m"}`;

async function main() {
  let ack;
  for (let n = 0; n < Number(runsArg); n++) {
    const runId = (
      await gql('/graphql', userToken, 'mutation($input: LaunchRunInput!) { launchRun(input: $input) { id } }', {
        input: { location: 'hello', job: 'hello' },
      })
    ).launchRun.id;
    const claimed = await gql('/agent/graphql', agentToken, docs.ClaimWork, {
      agentId,
      limit: 10,
      waitMs: 0,
      ...(ack ? { acks: [ack] } : {}),
    });
    const item = claimed.claimWork[0];
    ack = { id: item.id, workflowId: `run-${runId}` };
    await gql('/agent/graphql', agentToken, docs.RunCursor, { agentId, runId });
    await gql('/agent/graphql', agentToken, docs.ReportRunLaunchedWithEvents, {
      agentId,
      runId,
      info: { launcher: 'process', ref: '1234' },
      lines: ev(1, 'RUN_START', ',"data":{"pid":1234,"warm":true}'),
    });
    const body = [
      ev(2, 'STEP_START', ',"stepKey":"hello"'),
      ev(3, 'STEP_SUCCESS', ',"stepKey":"hello"'),
      ev(4, 'RUN_SUCCESS'),
    ].join('\n');
    await post(`/agent/events?agentId=${agentId}&runId=${runId}`, agentToken, 'application/x-ndjson', body);
    await gql('/agent/graphql', agentToken, docs.CompleteWork, { agentId, id: item.id, result: { status: 'SUCCESS' } });
  }
}

console.log('ready');
process.stdin.once('data', () =>
  main().then(
    () => process.exit(0),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  ),
);
