// `runEvents` subscriptions are capped per token (maxSubscriptionsPerToken): each open stream
// costs a store read and a token read per wake-up or per second, for as long as its run goes on.
// One more than the limit is refused with a coded error naming the limit; a slot comes back
// however a stream ends (client gone, run finished, error). A real control plane on a socket,
// the agent's part played through the real agent API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHelloStack, startedRun, type ScriptedStack } from '../../support/scripted-agent.js';
import { until } from '../../support/wait.js';

const LIMIT = 3;
let s: ScriptedStack;
let token: string;

before(async () => {
  s = await startHelloStack({ limits: { maxSubscriptionsPerToken: LIMIT } });
  const created = await s.user<{ createToken: { token: string } }>(
    'mutation { createToken(kind: USER, name: "watcher") { token } }',
  );
  token = created.createToken.token;
});
after(async () => {
  await s.close();
});

interface Stream {
  /** What the stream sent before its first event or error (or its end). */
  first: string;
  /** Reads until the server ends the stream. */
  rest(): Promise<void>;
  cancel(): Promise<void>;
}

/** Opens a `runEvents` SSE stream and reads up to its first event or error. */
async function open(runId: string, as = token): Promise<Stream> {
  const params = new URLSearchParams({
    query: 'subscription($r: ID!) { runEvents(runId: $r) { seq type } }',
    variables: JSON.stringify({ r: runId }),
  });
  const res = await fetch(`${s.url}/graphql?${params}`, {
    headers: { accept: 'text/event-stream', authorization: `Bearer ${as}` },
  });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (/RUN_START|OUTPOST_ERR_/.test(text)) break;
  }
  return {
    first: text,
    async rest() {
      while (!(await reader.read()).done);
    },
    cancel: () => reader.cancel(),
  };
}

/** Opens a stream that gets its run's events, retrying while a slot is still being given back. */
function openHeld(runId: string): Promise<Stream> {
  return until(`a runEvents stream of ${runId} to open`, async () => {
    const st = await open(runId);
    if (st.first.includes('RUN_START')) return st;
    assert.match(st.first, /OUTPOST_ERR_TOO_MANY_SUBSCRIPTIONS/);
    await st.cancel();
    return false;
  });
}

test('streams that fail take no slot for good', async () => {
  for (let i = 0; i < LIMIT + 2; i++) {
    const st = await open('run_nope');
    assert.match(st.first, /OUTPOST_ERR_UNKNOWN_RUN/, `attempt ${i + 1}: ${st.first}`);
    await st.cancel();
  }
});

test('one more than the limit is refused, naming it; a closed stream or a finished run frees its slot', async () => {
  const runId = await startedRun(s);
  const held: Stream[] = [];
  for (let i = 0; i < LIMIT; i++) held.push(await openHeld(runId));

  const refused = await open(runId);
  assert.match(refused.first, /OUTPOST_ERR_TOO_MANY_SUBSCRIPTIONS/);
  assert.match(refused.first, /the limit maxSubscriptionsPerToken is 3/);
  assert.match(refused.first, /--max-subscriptions-per-token or OUTPOST_MAX_SUBSCRIPTIONS_PER_TOKEN/);
  assert.doesNotMatch(refused.first, /RUN_START/, 'nothing of the run reaches a refused stream');
  await refused.cancel();

  const other = await open(runId, s.userToken);
  assert.match(other.first, /RUN_START/, 'the limit is per token');
  await other.cancel();

  // The client goes away: its slot comes back.
  await held.shift()!.cancel();
  held.push(await openHeld(runId));
  const again = await open(runId);
  assert.match(again.first, /OUTPOST_ERR_TOO_MANY_SUBSCRIPTIONS/, 'full again');
  await again.cancel();

  // The run finishes: every stream ends by itself and gives its slot back.
  await s.events(runId, [{ type: 'RUN_SUCCESS' }]);
  await Promise.all(held.map((st) => st.rest()));
  const next = await startedRun(s);
  const reopened: Stream[] = [];
  for (let i = 0; i < LIMIT; i++) reopened.push(await openHeld(next));
  const full = await open(next);
  assert.match(full.first, /OUTPOST_ERR_TOO_MANY_SUBSCRIPTIONS/);
  await Promise.all([full, ...reopened].map((st) => st.cancel()));
});
