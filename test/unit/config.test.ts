import assert from 'node:assert/strict';
import { test } from 'node:test';
import { z } from 'zod';
import { boolish, loadConfig, portSchema } from '../../src/shared/config.js';
import { isOutpostError } from '../../src/shared/errors.js';

const schema = z.object({
  port: portSchema.default(3000),
  tls: boolish.default(false),
  name: z.string().default('cp'),
});
const sources = {
  port: { flag: '--port', env: 'OUTPOST_PORT' },
  tls: { flag: '--tls', env: 'OUTPOST_TLS' },
};

test('flags beat env, env beats defaults', () => {
  assert.deepEqual(loadConfig(schema, sources, {}, {}), { port: 3000, tls: false, name: 'cp' });
  assert.deepEqual(loadConfig(schema, sources, {}, { OUTPOST_PORT: '4000', OUTPOST_TLS: '1' }), {
    port: 4000,
    tls: true,
    name: 'cp',
  });
  assert.equal(loadConfig(schema, sources, { port: '5000' }, { OUTPOST_PORT: '4000' }).port, 5000);
});

test('an invalid value names the flag and the variable', () => {
  assert.throws(
    () => loadConfig(schema, sources, {}, { OUTPOST_PORT: 'abc' }),
    (e: unknown) => isOutpostError(e, 'CONFIG_INVALID') && /--port \/ OUTPOST_PORT/.test(e.message),
  );
});
