// The isolation choice (auto / bubblewrap / none) and what a bubblewrap sandbox hides, with
// real bwrap processes.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  bubblewrapIsolation,
  bubblewrapUsable,
  noIsolation,
  resolveIsolation,
} from '../../../src/agent/launchers/sandbox.js';
import { isOutpostError } from '../../../src/shared/errors.js';

// Outside /tmp, so only the hiding under test protects it (the sandbox's /tmp is private anyway).
const home = mkdtempSync('/var/tmp/outpost-sandbox-');
after(() => rmSync(home, { recursive: true, force: true }));

describe('resolveIsolation', () => {
  test('none is honoured, and says so', () => {
    const r = resolveIsolation('none', { hideDirs: [] });
    assert.equal(r.isolation, noIsolation);
    assert.match(r.warning ?? '', /isolation is off/);
  });

  test('auto without a usable bwrap falls back to none with a loud warning; bubblewrap refuses', () => {
    const opts = { hideDirs: [], bwrap: join(home, 'no-such-bwrap') };
    const auto = resolveIsolation('auto', opts);
    assert.equal(auto.isolation.kind, 'none');
    assert.match(auto.warning ?? '', /NO ISOLATION.*not found/);
    assert.throws(
      () => resolveIsolation('bubblewrap', opts),
      (e: unknown) => isOutpostError(e, 'ISOLATION_UNAVAILABLE'),
    );
  });
});

const usable = bubblewrapUsable();
describe('bubblewrap sandbox', { skip: usable.ok ? false : `bubblewrap unusable here: ${usable.why}` }, () => {
  test('hides the data dir, token files and the agent’s processes; keeps what the child needs', () => {
    const secretDir = join(home, 'dot-outpost');
    const work = join(home, 'work');
    mkdirSync(join(secretDir, 'agent', 'runs', 'r1', 'spool'), { recursive: true });
    mkdirSync(work);
    writeFileSync(join(secretDir, 'agent.token'), 'opa_secret\n');
    writeFileSync(join(secretDir, 'agent', 'runs', 'r1', 'config.json'), '{"ok":true}');
    const isolation = bubblewrapIsolation('/usr/bin/bwrap', {
      hideDirs: [join(secretDir, 'agent'), secretDir],
      hideFiles: [join(secretDir, 'agent.token')],
    });
    const spool = join(secretDir, 'agent', 'runs', 'r1', 'spool');
    const script = [
      `ls -A ${secretDir} | tr '\\n' ' '; echo`,
      `cat ${join(secretDir, 'agent', 'runs', 'r1', 'config.json')}; echo`,
      `echo written > ${spool}/out.txt && echo wrote-spool`,
      `ls /proc | grep -E '^[0-9]+$' | wc -l`,
      `grep CapEff /proc/self/status`,
      `touch ${join(process.cwd(), 'planted')} 2>/dev/null && echo planted || echo outpost-readonly`,
      'pwd',
    ].join('; ');
    const argv = isolation.command(['sh', '-c', script], {
      cwd: work,
      internal: [join(secretDir, 'agent', 'runs', 'r1', 'config.json')],
      writable: [spool],
    });
    const r = spawnSync(argv[0]!, argv.slice(1), { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    const [listing, config, wrote, procs, caps, planted, pwd] = r.stdout.split('\n');
    assert.equal(listing?.trim(), 'agent', 'only the bound-back path shows in the hidden dir');
    assert.equal(config, '{"ok":true}');
    assert.equal(wrote, 'wrote-spool');
    // Its own shell pipeline and the sandbox's pid 1, not the host's hundreds.
    assert.ok(Number(procs) < 10, `sees only its own processes, saw ${procs}`);
    assert.match(caps ?? '', /CapEff:\s+0+$/);
    assert.equal(planted, 'outpost-readonly');
    assert.equal(pwd, work);
  });

  test('exit status: 128+N from bwrap is the signal N, except the run worker’s own 130 and 143', () => {
    const isolation = bubblewrapIsolation('/usr/bin/bwrap', { hideDirs: [] });
    assert.deepEqual(isolation.exit(137, null), { code: null, signal: 'SIGKILL' });
    assert.deepEqual(isolation.exit(143, null), { code: 143, signal: null });
    assert.deepEqual(isolation.exit(1, null), { code: 1, signal: null });
  });
});
