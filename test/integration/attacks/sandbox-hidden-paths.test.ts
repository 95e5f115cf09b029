// Attack (issue 13, item 1, on a real `outpost dev`): an EDITOR deploys a location whose
// workingDirectory is the data dir (`.outpost/`, under the module roots of `npm start`). The
// sandbox hid that directory, then bound the location's cwd and module directory back in,
// read-write, so user code read `.outpost/user.token` (the ADMIN token) at import and could
// write the agent's spools. Here with real bubblewrap: user code never runs from, nor loads
// its module out of, a hidden directory; the agent's own files (a run's config) still are shown.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { bubblewrapIsolation, bubblewrapUsable } from '../../../src/agent/launchers/sandbox.js';
import { isOutpostError } from '../../../src/shared/errors.js';

const usable = bubblewrapUsable();
const skip = usable.ok ? false : `bubblewrap unusable here: ${usable.why}`;

describe('attack: user code placed inside the directories the sandbox hides', { skip }, () => {
  let data: string;
  const admin = 'opu_' + 'A'.repeat(43);
  before(() => {
    mkdirSync('/var/tmp', { recursive: true });
    data = mkdtempSync('/var/tmp/outpost-hidden-');
    writeFileSync(join(data, 'agent.token'), 'opa_' + 'B'.repeat(43), { mode: 0o600 });
    writeFileSync(join(data, 'user.token'), admin, { mode: 0o600 });
    mkdirSync(join(data, 'agent', 'runs', 'r1'), { recursive: true });
    writeFileSync(join(data, 'agent', 'runs', 'r1', 'config.json'), '{"ok":true}');
  });
  after(() => rmSync(data, { recursive: true, force: true }));

  const sandbox = () =>
    bubblewrapIsolation('/usr/bin/bwrap', {
      hideDirs: [join(data, 'agent'), data],
      hideFiles: [join(data, 'agent.token')],
    });
  const refusal = (fn: () => unknown): string => {
    try {
      const argv = fn() as string[];
      // Not refused: what the user code would see.
      const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
      return `ran: ${r.stdout}${r.stderr}`;
    } catch (err) {
      assert.ok(isOutpostError(err), String(err));
      return err.code;
    }
  };

  test('a working directory inside the data dir is refused, not bound back', () => {
    const got = refusal(() => sandbox().command(['cat', 'user.token'], { cwd: data }));
    assert.ok(!got.includes(admin), 'user code read the admin token from its working directory');
    assert.equal(got, 'OUTPOST_ERR_ISOLATION_PATH_HIDDEN');
  });

  test('a module directory inside the data dir is refused, not bound back', () => {
    const got = refusal(() =>
      sandbox().command(['cat', join(data, 'user.token')], { cwd: '/', readable: [join(data, 'agent')] }),
    );
    assert.ok(!got.includes(admin), 'user code read the admin token next to its module');
    assert.equal(got, 'OUTPOST_ERR_ISOLATION_PATH_HIDDEN');
  });

  test("the agent's own files (a run's config) are still shown, and nothing beside them", () => {
    const config = join(data, 'agent', 'runs', 'r1', 'config.json');
    const argv = sandbox().command(['sh', '-c', `cat ${config}; cat ${join(data, 'user.token')}`], {
      cwd: '/',
      internal: [config],
    });
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    assert.match(r.stdout, /"ok":true/);
    assert.ok(!r.stdout.includes(admin));
  });
});
