// Attack: shell and YAML metacharacters in what a Dagster location names. The code server is
// started from an argv (never a shell), so a pointer such as `x.py; touch <marker>` is one
// argument: the location fails to load with Dagster's own error and nothing else runs. The
// run's dagster.yaml is read by Dagster's YAML loader (PyYAML, in the location's interpreter):
// paths holding quotes, colons, newlines or `!!python/object` come back as the same strings. A
// location name that could leave the artifact root is refused before any path is built.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { artifactDirOf, dagsterYaml } from '../../../src/agent/dagster/dagster-run-files.js';
import { isOutpostError } from '../../../src/shared/errors.js';
import { CodeLocationSpecSchema } from '../../../src/shared/work-items.js';
import {
  LOCATIONS_DIR,
  RecordingControlPlane,
  dagsterManager,
  python,
  skip,
} from '../dagster/dagster-manager-harness.js';

if (skip) console.log(`# skipping the Dagster injection attack: ${skip}`);

const dir = mkdtempSync(join(tmpdir(), 'outpost-dg-inject-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('attack: metacharacters in a Dagster location', { skip }, () => {
  test('a pointer or attribute with shell syntax is one argument: nothing but Dagster runs', async () => {
    const marker = join(dir, 'pwned');
    const cp = new RecordingControlPlane();
    const manager = dagsterManager(cp, { dagster: { startTimeoutMs: 60_000 } });
    try {
      cp.set('inject-file', 1, { pythonFile: `sensors.py; touch ${marker}`, workingDirectory: LOCATIONS_DIR });
      cp.set('inject-attr', 1, {
        pythonFile: 'sensors.py',
        attribute: `defs $(touch ${marker}) \`touch ${marker}\``,
        workingDirectory: LOCATIONS_DIR,
      });
      await manager.refresh();
      const file = await manager.settled('inject-file', 1, 90_000);
      const attr = await manager.settled('inject-attr', 1, 90_000);
      assert.equal(file.status, 'ERROR');
      assert.match(file.error ?? '', /sensors\.py; touch/, 'Dagster looked for the file under its whole name');
      assert.equal(attr.status, 'ERROR');
      assert.equal(existsSync(marker), false, 'a shell ran part of the pointer');
    } finally {
      await manager.stop();
    }
  });

  test("dagster.yaml keeps every path as data under Dagster's YAML loader", () => {
    const evil = join(dir, `a": b\n  module: os\n  class: x !!python/object/apply:os.system ['id'] # '`);
    const paths = { home: evil, spool: `${evil}/spool`, runFile: `${evil}/run.json`, artifactDir: `${evil}/art` };
    const text = dagsterYaml(paths);
    const r = spawnSync(
      python!,
      ['-c', 'import json, sys, yaml; print(json.dumps(yaml.safe_load(sys.stdin.read())))'],
      { input: text, encoding: 'utf8' },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout), JSON.parse(text));
    const loaded = JSON.parse(r.stdout) as Record<string, { module: string; config?: Record<string, string> }>;
    assert.equal(loaded.run_storage!.module, 'outpost_dagster.storage');
    assert.equal(loaded.run_storage!.config!.spool_dir, paths.spool);
    assert.equal(loaded.local_artifact_storage!.config!.base_dir, paths.artifactDir);
  });

  test('a location name cannot leave the artifact root', () => {
    for (const name of ['..', '.', '../other', 'a/b', '.hidden', 'a/../../b', '']) {
      assert.throws(
        () => artifactDirOf(dir, name),
        (e: unknown) => isOutpostError(e, 'INVALID_ARGUMENT'),
        name,
      );
      const spec = CodeLocationSpecSchema.safeParse({ name, dagster: { python, pythonFile: 'x.py' } });
      assert.equal(spec.success, false, `the spec schema accepted ${JSON.stringify(name)}`);
    }
    assert.equal(artifactDirOf(dir, 'shop.v2'), join(dir, 'artifacts', 'shop.v2'));
  });
});
