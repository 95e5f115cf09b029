// The pure parts of hosting Dagster locations: the supported-version range, load-error text,
// the pointer flags, run-request mapping (own job, run-key tag), plan levels, asset selection.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { dagsterPointerArgs } from '../../../../src/agent/dagster/dagster-code-server.js';
import { planSteps, toOutpostRunRequest } from '../../../../src/agent/dagster/dagster-code-location.js';
import { describeLoadError, isSupportedDagsterVersion } from '../../../../src/agent/dagster/dagster-load.js';
import * as serdes from '../../../../src/agent/dagster/serdes.js';
import { readSensorResult, type DagsterRunRequest } from '../../../../src/agent/dagster/serdes-readers.js';
import { isOutpostError } from '../../../../src/shared/errors.js';
import { MINORS, recorded } from './dagster-fixtures.js';

describe('supported Dagster versions', () => {
  test('1.9.x to 1.13.x are supported; others and unparsable versions are not', () => {
    for (const v of ['1.9.0', '1.9.13', '1.11.16', '1.13.29', '1.12.0rc1']) assert.ok(isSupportedDagsterVersion(v), v);
    for (const v of ['1.8.13', '1.14.0', '2.0.0', '0.15.0', '1!0+dev', 'unknown', ''])
      assert.ok(!isSupportedDagsterVersion(v), v);
  });
  for (const minor of MINORS) {
    test(`the recorded ${minor} server reports a supported version`, () => {
      assert.ok(isSupportedDagsterVersion(recorded(minor, 'list-repositories').dagsterVersion));
    });
  }
});

test('load error text: every cause as "Cls: message", then the innermost stack tail without import machinery', () => {
  const text = describeLoadError(
    {
      clsName: 'DagsterImportError',
      message: 'Encountered ImportError',
      stack: ['  File "outer.py", line 1\n'],
      cause: {
        clsName: 'SyntaxError',
        message: "'[' was never closed (syntax_error.py, line 4)",
        stack: [
          '  File "a.py", line 1\n',
          '  File "b.py", line 2\n',
          '  File "syntax_error.py", line 4\n',
          '  File "<frozen importlib._bootstrap>", line 241, in _call_with_frames_removed\n',
          '  File "/usr/lib/python3.11/importlib/__init__.py", line 126, in import_module\n',
        ],
        cause: null,
      },
    },
    2,
  );
  assert.equal(
    text,
    "DagsterImportError: Encountered ImportError\ncaused by SyntaxError: '[' was never closed (syntax_error.py, line 4)\n" +
      '  File "b.py", line 2\n  File "syntax_error.py", line 4',
  );
});

test("load error text: Dagster's own loading frames are left out, the user's frames kept (a real 1.13 NameError)", () => {
  const site = '/root/.cache/outpost/dagster/1.13.29/lib/python3.11/site-packages';
  const error = (stack: string[]) => ({
    clsName: 'DagsterUserCodeLoadError',
    message: 'Error occurred during the loading of Dagster definitions in python_file=/srv/defs.py',
    stack: [`  File "${site}/dagster/_grpc/utils.py", line 46, in get_loadable_targets\n`],
    cause: { clsName: 'NameError', message: "name 'undefined_name' is not defined", stack, cause: null },
  });
  const text = describeLoadError(
    error([
      `  File "${site}/dagster/_core/code_pointer.py", line 86, in load_python_file\n    return import_module_from_path(module_name, python_file)\n`,
      `  File "${site}/dagster_shared/seven/__init__.py", line 51, in import_module_from_path\n    spec.loader.exec_module(module)\n`,
      '  File "<frozen importlib._bootstrap_external>", line 940, in exec_module\n',
      '  File "/srv/defs.py", line 187, in <module>\n    VALUE = _helper()\n',
      '  File "/srv/defs.py", line 185, in _helper\n    return undefined_name + 1\n',
    ]),
  );
  assert.match(text, /caused by NameError: name 'undefined_name' is not defined\n {2}File "\/srv\/defs.py", line 187/);
  assert.match(text, /line 185, in _helper\n {4}return undefined_name \+ 1$/);
  assert.doesNotMatch(text, /code_pointer\.py|dagster_shared|exec_module/);
  // A SyntaxError's place is in its message; its stack is Dagster's alone: the text ends there.
  const syntax = describeLoadError({
    ...error([`  File "${site}/dagster/_core/code_pointer.py", line 86, in load_python_file\n`]),
    cause: {
      clsName: 'SyntaxError',
      message: '  File "/srv/defs.py", line 197\n    def broken(:\n               ^\nSyntaxError: invalid syntax',
      stack: [`  File "${site}/dagster/_core/code_pointer.py", line 86, in load_python_file\n`],
      cause: null,
    },
  });
  assert.match(syntax, /SyntaxError: invalid syntax$/);
});

test('pointer flags: exactly the one pointer given, then the attribute', () => {
  assert.deepEqual(dagsterPointerArgs({ python: 'p', pythonFile: 'defs.py' }), ['--python-file', 'defs.py']);
  assert.deepEqual(dagsterPointerArgs({ python: 'p', moduleName: 'm', attribute: 'defs' }), [
    '--module-name',
    'm',
    '--attribute',
    'defs',
  ]);
  assert.deepEqual(dagsterPointerArgs({ python: 'p', packageName: 'pkg' }), ['--package-name', 'pkg']);
});

describe('run requests', () => {
  const base: DagsterRunRequest = {
    runKey: null,
    jobName: null,
    runConfig: {},
    tags: {},
    partitionKey: null,
    assetSelection: null,
    assetCheckKeys: null,
    staleAssetsOnly: false,
    assetGraphSubset: false,
  };
  test("job_name null is the sensor's or schedule's own job; run_key becomes a tag too", () => {
    assert.deepEqual(toOutpostRunRequest({ ...base, runKey: 'k', tags: { a: 'b' } }, 'own_job', 'sensor s'), {
      job: 'own_job',
      runConfig: {},
      tags: { a: 'b', 'dagster/run_key': 'k' },
      runKey: 'k',
    });
    assert.deepEqual(toOutpostRunRequest({ ...base, jobName: 'other', partitionKey: 'red' }, 'own', 's'), {
      job: 'other',
      runConfig: {},
      tags: {},
      partitionKey: 'red',
    });
  });
  test("an asset selection is carried; checks other than its assets' own, or stale-only, fail loudly", () => {
    const assets = [
      {
        key: 'pears',
        description: '',
        deps: [],
        jobNames: ['fruit'],
        checks: [{ name: 'ripe', description: '', blocking: false }],
      },
      { key: 'plums', description: '', deps: [], jobNames: ['fruit'] },
    ];
    const req = { ...base, assetSelection: ['pears', 'plums'] };
    assert.deepEqual(toOutpostRunRequest({ ...req, assetCheckKeys: ['pears:ripe'] }, 'fruit', 's', assets), {
      job: 'fruit',
      runConfig: {},
      tags: {},
      assetSelection: ['pears', 'plums'],
    });
    const refused = (r: DagsterRunRequest, what: RegExp) =>
      assert.throws(
        () => toOutpostRunRequest(r, 'fruit', 'sensor s', assets),
        (e) => isOutpostError(e, 'UNSUPPORTED_DAGSTER_FEATURE') && what.test(e.message),
      );
    // Its assets without their checks, and a check run on its own: Outpost would run them otherwise.
    refused(
      { ...req, assetCheckKeys: [] },
      /selected the asset checks \[\], not those of its assets \(\[pears:ripe\]\)/,
    );
    refused({ ...base, assetCheckKeys: ['pears:ripe'] }, /selected the asset checks \[pears:ripe\]/);
    refused({ ...req, staleAssetsOnly: true }, /stale assets only/);
    refused({ ...base, assetGraphSubset: true }, /a backfill/);
    // Dagster ignores stale-only for a job that materializes no asset.
    assert.equal(toOutpostRunRequest({ ...base, staleAssetsOnly: true }, 'op_job', 's', assets).job, 'op_job');
  });
  test('no job at all is a coded error, not a guess', () => {
    assert.throws(
      () => toOutpostRunRequest(base, '', 'sensor s'),
      (e) => isOutpostError(e, 'UNSUPPORTED_DAGSTER_FEATURE'),
    );
  });
  for (const minor of MINORS) {
    test(`${minor}: the recorded sensor reply maps with its cursor and no unsupported fields`, () => {
      const r = readSensorResult(recorded(minor, 'sensor.cursor-41').reply);
      assert.ok(r.ok);
      assert.deepEqual(r.value.unsupported, []);
      const mapped = r.value.runRequests.map((x) => toOutpostRunRequest(x, 'greeting_job', 'every_tick'));
      assert.equal(mapped[0]?.tags['dagster/run_key'], mapped[0]?.runKey);
      assert.equal(r.value.cursor, '42');
    });
  }
});

test('plan levels: the longest path from a root; unknown upstreams ignored', () => {
  assert.deepEqual(
    planSteps([
      { key: 'a', upstream: [] },
      { key: 'b', upstream: ['a'] },
      { key: 'c', upstream: ['a', 'b', 'elsewhere'] },
    ]),
    [
      { key: 'a', dependsOn: [], level: 0 },
      { key: 'b', dependsOn: ['a'], level: 1 },
      { key: 'c', dependsOn: ['a', 'b', 'elsewhere'], level: 2 },
    ],
  );
});

test('execution-plan args carry the asset selection as a frozenset of AssetKeys', () => {
  const args = JSON.parse(
    serdes.executionPlanSnapshotArgs({
      origin: { socket: '/s', locationName: 'l', repositoryName: '__repository__' },
      jobName: '__ASSET_JOB',
      snapshotId: 'x',
      runConfig: {},
      assetSelection: ['a/b', 'c'],
    }),
  ) as { asset_selection: unknown };
  assert.deepEqual(args.asset_selection, {
    __frozenset__: [
      { __class__: 'AssetKey', path: ['a', 'b'] },
      { __class__: 'AssetKey', path: ['c'] },
    ],
  });
});
