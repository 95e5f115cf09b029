// A client that goes away mid-request (an agent stopping during its claimWork long-poll, which
// every clean `outpost dev` shutdown does) is normal: the control plane logs no error for it.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { startControlPlane, type ControlPlane } from '../../../src/control-plane/index.js';
import { createLogger } from '../../../src/shared/logger.js';

const records: Array<{ level: number; msg: string; err?: unknown }> = [];
const sink = new Writable({
  write(chunk: Buffer, _enc, done) {
    for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
      records.push(JSON.parse(line) as { level: number; msg: string });
    }
    done();
  },
});

let dir: string;
let cp: ControlPlane;
let agentToken: string;

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'outpost-abort-'));
  cp = await startControlPlane({
    databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
    port: 0,
    logger: createLogger({ name: 'control-plane', level: 'debug', destination: sink }),
    daemon: false,
    web: false,
  });
  agentToken = await cp.issueToken('agent', 'test-agent');
});
after(async () => {
  await cp.close();
  rmSync(dir, { recursive: true, force: true });
});

function post(query: string, onSocket?: (destroy: () => void) => void): Promise<string> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify({ query });
    const req = request(
      `${cp.url}/agent/graphql`,
      {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'content-length': Buffer.byteLength(body),
          authorization: `Bearer ${agentToken}`,
        },
      },
      (res) => {
        let text = '';
        res.on('data', (c: Buffer) => (text += c.toString('utf8')));
        res.on('end', () => resolve(text));
      },
    );
    req.on('error', (err) => reject(err));
    req.end(body);
    onSocket?.(() => req.destroy());
  });
}

test('an agent that disconnects during its claimWork long-poll leaves no error in the log', async () => {
  const reg = JSON.parse(
    await post(
      `mutation { registerAgent(input: { name: "a", hostname: "h", version: "0", taskQueue: "q" }) { agentId } }`,
    ),
  ) as { data: { registerAgent: { agentId: string } } };
  const agentId = reg.data.registerAgent.agentId;
  const before = records.length;
  await assert.rejects(
    post(`mutation { claimWork(agentId: "${agentId}", limit: 1, waitMs: 10000) { id } }`, (destroy) => {
      setTimeout(destroy, 500);
    }),
    /socket hang up|aborted/,
  );
  // The server notices the close, the long-poll returns early, and the request is over.
  await new Promise((r) => setTimeout(r, 1_000));
  const errors = records.slice(before).filter((r) => r.level >= 50);
  assert.deepEqual(
    errors.map((r) => `${r.msg} ${JSON.stringify(r.err)}`),
    [],
    'a client going away is not a server error',
  );
  // The server still answers.
  const again = await post(`mutation { claimWork(agentId: "${agentId}", limit: 1, waitMs: 0) { id } }`);
  assert.match(again, /"claimWork":\[\]/);
});
