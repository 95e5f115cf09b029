// docker-compose.yml is for users (no Docker engine here): check that it parses, keeps its
// shape, and keeps the isolation promise: no token path on any command line, and an agent that
// runs user code in bubblewrap (or refuses to start), with what bwrap needs allowed.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';

const compose = spawnSync('docker-compose', ['version'], { encoding: 'utf8' });
// docker-compose v1 is Python and brings PyYAML, which turns its resolved config into JSON.
const yaml = spawnSync('python3', ['-c', 'import yaml'], { encoding: 'utf8' });
const skip = compose.error
  ? 'docker-compose is not installed (npm run system:install)'
  : yaml.status !== 0
    ? 'python3 with PyYAML (a docker-compose dependency) is missing'
    : false;
if (skip) console.warn(`skipping docker-compose validation: ${skip}`);

interface Service {
  command?: string[] | string;
  entrypoint?: string[] | string;
  environment?: Record<string, string | null>;
  security_opt?: string[];
  user?: string;
  volumes?: Array<string | { source?: string; target: string; read_only?: boolean }>;
}

/** The compose file as docker-compose resolves it (anchors merged, variables interpolated). */
function resolvedConfig(): { services: Record<string, Service> } {
  const res = spawnSync('docker-compose', ['config'], { encoding: 'utf8' });
  assert.equal(res.status, 0, res.stderr);
  const json = spawnSync(
    'python3',
    ['-c', 'import sys, json, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)'],
    { input: res.stdout, encoding: 'utf8' },
  );
  assert.equal(json.status, 0, json.stderr);
  return JSON.parse(json.stdout) as { services: Record<string, Service> };
}

const argv = (v: string[] | string | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

describe('docker-compose.yml', { skip }, () => {
  test('validates and has the production services', () => {
    const services = Object.keys(resolvedConfig().services);
    for (const s of ['agent', 'control-plane', 'postgresql', 'temporal', 'temporal-ui'])
      assert.ok(services.includes(s), s);
  });

  test('no command line names a token file: /proc/<pid>/cmdline is readable by every process', () => {
    for (const [name, svc] of Object.entries(resolvedConfig().services)) {
      const line = [...argv(svc.entrypoint), ...argv(svc.command)].join(' ');
      assert.doesNotMatch(line, /--token-file|--token\b|[\w/.-]*\.token\b/, `${name}: ${line}`);
    }
  });

  test('the agent reads its token from a read-only volume named by OUTPOST_AGENT_TOKEN_FILE', () => {
    const agent = resolvedConfig().services.agent!;
    const file = agent.environment?.OUTPOST_AGENT_TOKEN_FILE;
    assert.ok(file, 'OUTPOST_AGENT_TOKEN_FILE is set');
    const dir = file.slice(0, file.lastIndexOf('/'));
    const mount = (agent.volumes ?? []).find((v) => (typeof v === 'string' ? v.split(':')[1] : v.target) === dir);
    assert.ok(mount, `a volume is mounted at ${dir}`);
    assert.ok(typeof mount === 'string' ? mount.endsWith(':ro') : mount.read_only, `${dir} is read-only to the agent`);
    assert.equal(agent.environment?.OUTPOST_AGENT_TOKEN, undefined, 'never the token itself in the environment');
  });

  test('the agent isolates user code with bubblewrap, fail-closed, with what bwrap needs allowed', () => {
    const agent = resolvedConfig().services.agent!;
    assert.equal(agent.environment?.OUTPOST_AGENT_ISOLATION, 'bubblewrap', 'not auto: refuse to start without it');
    const opts = agent.security_opt ?? [];
    for (const o of ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined'])
      assert.ok(opts.includes(o), `${o} in ${JSON.stringify(opts)}`);
    assert.ok(
      opts.some((o) => /^no-new-privileges(:true)?$/.test(o)),
      'no-new-privileges (Debian bwrap is not setuid)',
    );
    assert.ok(!('user' in agent) || agent.user !== 'root', 'the agent keeps the image’s unprivileged uid');
    // The relaxations are the agent's alone.
    for (const [name, svc] of Object.entries(resolvedConfig().services)) {
      if (name !== 'agent') assert.deepEqual(svc.security_opt ?? [], [], name);
    }
  });

  test('the image installs bubblewrap and runs as an unprivileged user', () => {
    const dockerfile = readFileSync('Dockerfile', 'utf8');
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    assert.match(final, /apt-get install[^\n]*\bbubblewrap\b/, 'bubblewrap in the runtime stage');
    assert.match(final, /\nUSER outpost\n/);
    assert.match(final, /chmod 700 \/data \/secret/, 'the token volume starts out private to that uid');
  });
});
