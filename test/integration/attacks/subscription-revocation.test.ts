// A `runEvents` subscription is a long-lived request (up to a day while its run goes on): it
// must end as soon as the token it was opened with is revoked, or the browser session behind
// it is signed out, and deliver nothing stored after that. A real control plane on a socket,
// the agent's part played through the real agent API.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { startHelloStack, startedRun, type ScriptedStack } from '../../support/scripted-agent.js';

let s: ScriptedStack;

before(async () => {
  s = await startHelloStack();
});
after(async () => {
  await s.close();
});

/** An SSE reader: `until(pred)` reads until the text so far matches or the stream ends. */
async function openStream(runId: string, headers: Record<string, string>) {
  const params = new URLSearchParams({
    query: 'subscription($r: ID!) { runEvents(runId: $r) { seq type message } }',
    variables: JSON.stringify({ r: runId }),
  });
  const res = await fetch(`${s.url}/graphql?${params}`, { headers: { accept: 'text/event-stream', ...headers } });
  assert.equal(res.status, 200);
  const reader = res.body!.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let ended = false;
  return {
    get text() {
      return text;
    },
    get ended() {
      return ended;
    },
    async until(pred: (t: string) => boolean): Promise<void> {
      while (!ended && !pred(text)) {
        const { done, value } = await reader.read();
        if (done) ended = true;
        else text += decoder.decode(value, { stream: true });
      }
    },
    cancel: () => reader.cancel(),
  };
}

test('revoking the token ends its open subscription: nothing stored afterwards reaches it', async () => {
  const created = await s.user<{ createToken: { id: string; token: string } }>(
    'mutation { createToken(kind: USER, name: "watcher") { id token } }',
  );
  const runId = await startedRun(s);
  const stream = await openStream(runId, { authorization: `Bearer ${created.createToken.token}` });
  await stream.until((t) => t.includes('RUN_START'));

  await s.user('mutation($id: ID!) { revokeToken(id: $id) { id } }', { id: created.createToken.id });
  await s.events(runId, [{ type: 'LOG', message: 'after-revocation' }]);
  // The run goes on; the stream must end (with the coded refusal), not carry the new event.
  await stream.until((t) => t.includes('after-revocation') || t.includes('OUTPOST_ERR_'));
  await stream.cancel();
  assert.doesNotMatch(stream.text, /after-revocation/);
  assert.match(stream.text, /OUTPOST_ERR_UNAUTHENTICATED/);
});

test('signing out ends the browser session’s open subscription', async () => {
  const link = await s.user<{ createSignInLink: { code: string } }>('mutation { createSignInLink { code } }');
  const signin = await fetch(`${s.url}/signin`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ code: link.createSignInLink.code }),
  });
  assert.equal(signin.status, 200);
  const cookies = signin.headers.getSetCookie().map((c) => c.split(';')[0]!);
  const csrf = cookies.find((c) => c.startsWith('outpost_csrf='))!.split('=')[1]!;
  const cookie = cookies.join('; ');

  const runId = await startedRun(s);
  const stream = await openStream(runId, { cookie });
  await stream.until((t) => t.includes('RUN_START'));

  const out = await fetch(`${s.url}/signout`, { method: 'POST', headers: { cookie, 'x-outpost-csrf': csrf } });
  assert.equal(out.status, 200);
  await s.events(runId, [{ type: 'LOG', message: 'after-sign-out' }]);
  await stream.until((t) => t.includes('after-sign-out') || t.includes('OUTPOST_ERR_'));
  await stream.cancel();
  assert.doesNotMatch(stream.text, /after-sign-out/);
  assert.match(stream.text, /OUTPOST_ERR_UNAUTHENTICATED/);
});
