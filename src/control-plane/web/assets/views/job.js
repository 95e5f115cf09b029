// One job: its op graph, config schema, and a launch form whose JSON config is checked
// against the schema as you type (the server checks it again on launch).
import { gql } from '../api.js';
import { errorBox, h, mount, statusPill, toast } from '../dom.js';
import { exampleFor, requiredExampleFor, validate } from '../lib/json-schema.js';
import { JOB, LAUNCH_RUN } from '../queries.js';
import { opGraph } from './op-graph.js';
import { partitionPicker } from './partition-picker.js';
import { kindChip } from './location-kind.js';
import { isImplicitAssetJob } from './assets.js';
import { can, role } from '../roles.js';

export async function jobView(main, { params, navigate }) {
  const [locationName, jobName] = params;
  const { codeLocation: l } = await gql(JOB, { name: locationName });
  const job = l?.jobs?.find((j) => j.name === jobName);
  if (!l || !job) {
    mount(main, errorBox({ code: 'OUTPOST_ERR_UNKNOWN_JOB', message: `No job ${jobName} in ${locationName}` }));
    return;
  }
  const schema = job.configSchema && typeof job.configSchema === 'object' ? job.configSchema : {};
  const dagster = l.kind === 'DAGSTER';
  const editor = h('textarea', {
    id: 'config-editor',
    class: 'code-editor',
    rows: 10,
    spellcheck: 'false',
    'aria-label': 'Run config (JSON)',
  });
  // A partition supplies its own config (only the location knows it; the server merges this
  // editor's values over it), so a partitioned job starts empty rather than with placeholders
  // that would override the partition's values.
  // A Dagster job starts from its required fields only (Dagster applies the defaults itself).
  const start = dagster ? requiredExampleFor(schema) : exampleFor(schema);
  editor.value = job.partitions ? '{}' : JSON.stringify(start, null, 2);
  editor.rows = Math.min(16, Math.max(4, editor.value.split('\n').length + 2));
  const tagsInput = h('input', {
    id: 'launch-tags',
    type: 'text',
    placeholder: 'key=value, key2=value2',
    'aria-label': 'Tags',
  });
  // A partitioned job runs one partition: a key from its set (the server checks it again).
  const partitionSet = job.partitions ? (l.partitions ?? []).find((p) => p.name === job.partitions) : undefined;
  const picker = partitionPicker(l.name, job, partitionSet);
  const partitionInput = picker?.input ?? null;
  const problems = h('ul', { class: 'problems', id: 'config-problems', 'aria-live': 'polite' });
  // A Dagster job of several ops can run some of them (Dagster's op selection); all checked is
  // the whole job. Dagster plans the subset on launch and says what it cannot run.
  // Not the implicit asset job's: its assets are picked in the asset view.
  const opNames =
    dagster && !isImplicitAssetJob(job.name) && (job.ops?.length ?? 0) > 1 ? job.ops.map((o) => o.name) : [];
  const opBoxes = opNames.map((name) =>
    h('input', { type: 'checkbox', checked: true, value: name, 'data-op': name, onchange: () => check() }),
  );
  const opPicker = opNames.length
    ? h(
        'fieldset',
        { class: 'op-picker', id: 'op-picker' },
        h('legend', {}, 'Ops to run'),
        opBoxes.map((box, i) => h('label', { class: 'op-choice' }, box, ' ', h('span', { class: 'mono' }, opNames[i]))),
        h('p', { class: 'muted small' }, 'All checked runs the whole job; Dagster plans a subset when you launch.'),
      )
    : null;
  const selectedOps = () => opBoxes.filter((b) => b.checked).map((b) => b.value);
  const launchBtn = h('button', { type: 'submit', class: 'btn btn-primary', id: 'launch' }, 'Launch run');
  const serverError = h('div', {});

  function check() {
    let value;
    const errs = [];
    try {
      value = editor.value.trim() ? JSON.parse(editor.value) : {};
      // Missing fields may be the partition's to supply: the server checks them after merging.
      errs.push(
        ...validate(schema, value).filter((e) => !(job.partitions && e.message.startsWith('missing required'))),
      );
    } catch (err) {
      errs.push({ path: 'JSON', message: err.message });
    }
    // Dagster is the judge of Dagster config (the launch asks the location): the converted
    // schema cannot express every Dagster config type, so its problems advise but do not block.
    const blocking = dagster ? errs.filter((e) => e.path === 'JSON') : errs;
    problems.classList.toggle('advisory', blocking.length < errs.length);
    problems.replaceChildren(
      ...errs.map((e) =>
        h('li', { class: blocking.includes(e) ? null : 'advisory' }, h('code', {}, e.path), ' ', e.message),
      ),
      // replaceChildren writes a null as the text "null": only elements.
      ...(blocking.length < errs.length
        ? [h('li', { class: 'muted advisory-note' }, 'Dagster checks the config when you launch.')]
        : []),
    );
    editor.classList.toggle('invalid', blocking.length > 0);
    const noOps = opBoxes.length > 0 && selectedOps().length === 0;
    if (noOps) problems.append(h('li', { id: 'no-ops' }, 'Check at least one op to run.'));
    launchBtn.disabled = blocking.length > 0 || noOps || l.status !== 'LOADED';
    return blocking.length || noOps ? undefined : value;
  }
  editor.addEventListener('input', check);

  function parseTags() {
    const tags = {};
    for (const part of tagsInput.value.split(',')) {
      const [k, ...rest] = part.split('=');
      if (k?.trim()) tags[k.trim()] = rest.join('=').trim();
    }
    return tags;
  }

  async function launch(ev) {
    ev.preventDefault();
    const runConfig = check();
    if (runConfig === undefined) return;
    launchBtn.disabled = true;
    serverError.replaceChildren();
    try {
      const input = { location: l.name, job: job.name, runConfig, tags: parseTags() };
      if (partitionInput) input.partitionKey = partitionInput.value.trim();
      const ops = selectedOps();
      if (ops.length && ops.length < opBoxes.length) input.opSelection = ops;
      const data = await gql(LAUNCH_RUN, { input });
      toast(`Launched ${job.name}`);
      navigate(`/runs/${encodeURIComponent(data.launchRun.id)}`);
    } catch (err) {
      serverError.replaceChildren(errorBox(err));
      launchBtn.disabled = false;
    }
  }

  const tags = Object.entries(job.tags ?? {});
  mount(
    main,
    h(
      'div',
      { class: 'crumbs' },
      h('a', { href: '/locations' }, 'Code locations'),
      ' / ',
      h('a', { href: `/locations/${encodeURIComponent(l.name)}` }, l.name),
      ' / ',
      job.name,
    ),
    h(
      'div',
      { class: 'page-head' },
      h('h1', {}, job.name),
      statusPill(l.status),
      dagster ? kindChip(l) : null,
      h('span', { class: 'topbar-spacer' }),
      // The implicit asset job is Dagster's way to materialize assets: pick them in the asset view.
      dagster && isImplicitAssetJob(job.name)
        ? h('a', { class: 'btn', id: 'to-assets', href: `/locations/${encodeURIComponent(l.name)}/assets` }, 'Assets →')
        : null,
      h(
        'a',
        {
          class: 'btn btn-ghost',
          href: `/runs?location=${encodeURIComponent(l.name)}&job=${encodeURIComponent(job.name)}`,
        },
        'Runs of this job →',
      ),
    ),
    job.description ? h('p', { class: 'lead' }, job.description) : null,
    tags.length
      ? h(
          'div',
          { class: 'tag-row' },
          tags.map(([k, v]) => h('span', { class: 'tag' }, `${k}=${v}`)),
        )
      : null,
    h(
      'div',
      { class: 'card' },
      h('h3', {}, 'Op graph'),
      h(
        'div',
        { class: 'graph-scroll', id: 'op-graph' },
        job.ops?.length ? opGraph(job.ops) : h('p', { class: 'muted' }, 'This job has no ops.'),
      ),
    ),
    h(
      'div',
      { class: 'grid-2' },
      !can('launchRun')
        ? h(
            'div',
            { class: 'card', id: 'launch-denied' },
            h('h3', {}, 'Launch'),
            h('p', { class: 'muted' }, `Your role (${role}) cannot launch runs; a LAUNCHER token can.`),
          )
        : h(
            'form',
            { class: 'card launch-form', id: 'launch-form', onsubmit: (e) => void launch(e) },
            h('h3', {}, 'Launch'),
            h(
              'label',
              { for: 'config-editor' },
              job.partitions ? "Run config (JSON, merged over the partition's config)" : 'Run config (JSON)',
            ),
            dagster
              ? h(
                  'p',
                  { class: 'muted small', id: 'dagster-config-hint' },
                  "Dagster run config (ops, resources, execution); what you leave out takes the schema's defaults.",
                )
              : null,
            editor,
            problems,
            opPicker,
            partitionInput ? h('label', { for: 'partition-key' }, `Partition (${job.partitions})`) : null,
            partitionInput,
            picker?.hint ?? null,
            h('label', { for: 'launch-tags' }, 'Tags (optional)'),
            tagsInput,
            serverError,
            h(
              'div',
              { class: 'form-actions' },
              launchBtn,
              l.status !== 'LOADED' ? h('span', { class: 'muted' }, ` The location is ${l.status}.`) : null,
            ),
          ),
      h(
        'div',
        { class: 'card' },
        h('h3', {}, 'Config schema'),
        Object.keys(schema.properties ?? {}).length === 0
          ? h('p', { class: 'muted' }, 'This job takes no config: launch it with {}.')
          : null,
        h('pre', { class: 'schema', id: 'config-schema' }, JSON.stringify(schema, null, 2)),
      ),
    ),
  );
  check();
}
