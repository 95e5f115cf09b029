// Audit retention: the daemon deletes audit rows older than the configured retention (and dead
// sessions and sign-in codes), at most once per prune interval, and keeps everything newer.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Daemon } from '../../../src/control-plane/daemon/daemon.js';
import { listAudit, recordAudit } from '../../../src/control-plane/store/audit-log.js';
import { createSession, createSigninCode, sessionPrincipal } from '../../../src/control-plane/store/sessions.js';
import { Store } from '../../../src/control-plane/store/store.js';
import { createToken } from '../../../src/control-plane/store/tokens.js';
import { createLogger } from '../../../src/shared/logger.js';
import { describeEachDialect } from '../../support/storage.js';

const DAY = 86_400_000;

describeEachDialect('audit retention', (target) => {
  let store: Store;
  const clock = { now: Date.UTC(2026, 0, 1) };
  before(async () => {
    store = await Store.open({ url: await target.freshUrl(), clock: () => clock.now });
  });
  after(() => store.close());

  test('rows past the retention go; newer rows, live sessions and fresh codes stay', async () => {
    const { id } = await createToken(store, 'user', 'retention', { role: 'ADMIN' });
    const entry = { actorTokenId: id, actor: 'retention', target: null, outcome: 'ok' };
    await recordAudit(store, { ...entry, action: 'old' });
    clock.now += 5 * DAY;
    await recordAudit(store, { ...entry, action: 'recent' });
    const session = await createSession(store, id, 30 * DAY);
    await createSigninCode(store, id, 60_000);
    clock.now += 1 * DAY;
    const daemon = new Daemon(store, createLogger({ name: 'test', level: 'silent' }), {
      auditRetentionMs: 3 * DAY,
      pruneIntervalMs: 3_600_000,
    });
    const first = await daemon.runOnce();
    assert.equal(first.pruned, 2, 'the old audit row and the expired code');
    const left = await listAudit(store, {}, 10);
    assert.deepEqual(
      left.entries.map((e) => e.action),
      ['recent'],
    );
    assert.ok(await sessionPrincipal(store, session), 'a live session is kept');
    await recordAudit(store, { ...entry, action: 'newest' });
    clock.now += 10 * DAY;
    assert.equal((await daemon.runOnce()).pruned, 2, 'recent and newest, now past the retention');
    assert.ok(await sessionPrincipal(store, session), 'the 30-day session lives on');
    assert.equal((await daemon.runOnce()).pruned, 0, 'not again within the prune interval');
  });
});
