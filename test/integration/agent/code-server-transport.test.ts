// How the agent classifies a code server's failed gRPC call, against real peers in their own
// processes: a server that goes away mid-call (killed, stream ended without status, call
// cancelled, connection reset) is CODE_SERVER_UNAVAILABLE, which the activities retry against
// the restarted server; an answer the server actually gave that is wrong stays BAD_RESPONSE.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { after, describe, test } from 'node:test';
import { connectCodeServer, unary } from '../../../src/agent/code-server-client.js';
import { OutpostError, type ErrorName } from '../../../src/shared/errors.js';

const PEER = fileURLToPath(new URL('../../support/grpc-peer.mjs', import.meta.url));
const children: ChildProcess[] = [];
after(() => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

async function startPeer(mode: string): Promise<{ port: number; child: ChildProcess }> {
  const child = spawn(process.execPath, [PEER, mode], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`grpc peer ${mode} exited (${code}) before listening`)));
    createInterface({ input: child.stdout }).once('line', (line) => resolve(Number(line.split(' ')[1])));
  });
  return { port, child };
}

/** One Ping against a peer in `mode`; the coded error it failed with. */
async function pingError(mode: string): Promise<OutpostError> {
  const { port, child } = await startPeer(mode);
  const client = connectCodeServer(port);
  try {
    await unary(client, 'ping', { echo: 'x' }, 10_000);
  } catch (err) {
    assert.ok(err instanceof OutpostError, String(err));
    return err;
  } finally {
    client.close();
    child.kill('SIGKILL');
  }
  assert.fail(`ping against ${mode} succeeded`);
}

function expectCode(err: OutpostError, name: ErrorName, mode: string): void {
  assert.equal(err.errorName, name, `${mode}: ${err.message} (${err.detail ?? ''})`);
}

describe('code server transport failures', () => {
  // The flake of "code server killed mid-sensor-evaluation": grpc-js saw the stream close
  // before the connection drop and reported INTERNAL "RST_STREAM with code 0".
  test('a stream that ends with no gRPC status (the peer went away) is UNAVAILABLE', async () => {
    const err = await pingError('end-without-status');
    expectCode(err, 'CODE_SERVER_UNAVAILABLE', 'end-without-status');
    assert.match(err.detail ?? '', /RST_STREAM with code 0/);
  });

  test('a call the server cancels (shutting down) is UNAVAILABLE', async () => {
    expectCode(await pingError('cancel'), 'CODE_SERVER_UNAVAILABLE', 'cancel');
  });

  test('a connection reset under the call is UNAVAILABLE', async () => {
    expectCode(await pingError('drop'), 'CODE_SERVER_UNAVAILABLE', 'drop');
  });

  test('a grpc-js server SIGKILLed inside its handler is UNAVAILABLE, every time', async () => {
    for (let i = 0; i < 5; i++) expectCode(await pingError('kill'), 'CODE_SERVER_UNAVAILABLE', `kill #${i}`);
  });

  test('a response that does not parse stays BAD_RESPONSE', async () => {
    const err = await pingError('garbage');
    expectCode(err, 'CODE_SERVER_BAD_RESPONSE', 'garbage');
    assert.match(err.detail ?? '', /parsing error/);
  });

  test('an INTERNAL status the server sent stays BAD_RESPONSE', async () => {
    const err = await pingError('internal');
    expectCode(err, 'CODE_SERVER_BAD_RESPONSE', 'internal');
    assert.match(err.detail ?? '', /handler blew up/);
  });
});
