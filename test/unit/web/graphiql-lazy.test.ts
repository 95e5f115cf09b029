// GraphiQL's ~9 MB bundle is not part of an idle control plane: loading the control plane's
// modules leaves it unloaded (it held ~32 MB of V8's large-object space as a static import), and
// once the page has been rendered the bundle's modules are let go; the page keeps being served.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runInNewContext } from 'node:vm';
import { getHeapSpaceStatistics, setFlagsFromString } from 'node:v8';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

/** MB in V8's large-object space (where the bundle's source text and exported string live). */
function largeObjectsMb(): number {
  gc();
  const space = getHeapSpaceStatistics().find((s) => s.space_name === 'large_object_space');
  return (space?.space_used_size ?? 0) / 1048576;
}

test('the control plane does not load GraphiQL until its page is asked for, and lets it go after', async () => {
  const before = largeObjectsMb();
  // Everything `outpost control-plane` imports, the web handler with its GraphiQL page among it.
  await import('../../../src/control-plane/index.js');
  const { graphiqlResponse, GRAPHIQL_MODULE } = await import('../../../src/control-plane/web/graphiql-page.js');
  const loaded = largeObjectsMb() - before;
  assert.ok(loaded < 8, `importing the control plane added ${loaded.toFixed(1)} MB of large objects`);

  // In a function of its own: an async function's frame would keep the last page text alive.
  const serve = async (csrf: string): Promise<void> => {
    const res = graphiqlResponse(csrf);
    assert.equal(res.status, 200);
    const page = await res.text();
    assert.ok(page.length > 1_000_000, 'the whole bundle is inline');
    assert.ok(page.includes(csrf), 'the per-response CSRF value is in the page');
  };
  await serve('first-csrf');
  await serve('second-csrf');
  const { createRequire } = await import('node:module');
  const cache = createRequire(import.meta.url).cache;
  assert.deepEqual(
    Object.keys(cache).filter((id) => id.startsWith(GRAPHIQL_MODULE.replace(/[^/]+$/, ''))),
    [],
    "the bundle's modules left the require cache",
  );
  // What the render's task still holds is released once it has ended.
  await new Promise((r) => setImmediate(r));
  const after = largeObjectsMb() - before;
  assert.ok(after < 8, `after serving the page ${after.toFixed(1)} MB of large objects stayed`);
});
