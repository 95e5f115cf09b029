// The browser tests' starting point: a scripted stack (scripted-agent.ts: a real control plane
// in-process, the agent's part played through the real agent API) seeded with `hello` LOADED, as
// the real SDK's definitions of examples/hello, and `broken` in ERROR. No Temporal:
// ui-full-flow.test.ts covers the whole system.
import type { TestBrowser } from './browser.js';
import { startScriptedStack, type ScriptedStack } from './scripted-agent.js';

export async function startSeededControlPlane(): Promise<ScriptedStack> {
  const s = await startScriptedStack({}, { name: 'e2e-agent', hostname: 'e2e-host' });
  await s.heartbeat(['hello']);
  const v = await s.deploy('hello');
  const vb = await s.deploy('broken');
  await s.report('hello', v, { snapshot: await s.helloSnapshot() });
  await s.report('broken', vb, { error: "SyntaxError: Unexpected token '}' in definitions.ts:12" });
  return s;
}

/** Signs the browser in through a one-time `#code=` link; resolves on /runs. */
export async function signIn(s: ScriptedStack, b: TestBrowser): Promise<void> {
  const { createSignInLink } = await s.user<{ createSignInLink: { path: string } }>(
    'mutation { createSignInLink { path } }',
  );
  await b.page.goto(`${s.url}${createSignInLink.path}`);
  await b.page.waitForURL((u) => u.pathname === '/runs');
}
