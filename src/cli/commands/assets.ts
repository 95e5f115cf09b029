// `outpost assets list <location>`: a Dagster location's assets, their jobs and latest
// materialization (materializing them is `outpost runs launch` with an asset selection).
import type { Command } from 'commander';
import { OutpostError } from '../../shared/errors.js';
import { type ClientOptions, userApi, withClientOptions } from '../client.js';
import { printTable, runAction } from '../output.js';

interface AssetRow {
  key: string;
  groupName: string | null;
  deps: string[];
  jobNames: string[];
  lastMaterialization: { runId: string; timestamp: number } | null;
  automationCondition: string | null;
  freshnessPolicy: string | null;
}

/** One line per asset whose Dagster automation Outpost does not evaluate, so none is ignored unseen. */
function unsupportedLines(rows: AssetRow[]): string[] {
  return rows.flatMap((a) => [
    ...(a.automationCondition
      ? [`${a.key}: AutomationCondition ${a.automationCondition} is not evaluated: nothing materializes it on its own`]
      : []),
    ...(a.freshnessPolicy ? [`${a.key}: freshness policy (${a.freshnessPolicy}) is not evaluated`] : []),
  ]);
}

export function registerAssetsCommand(program: Command): void {
  const assets = program.command('assets').description('Inspect the assets of a code location');
  withClientOptions(
    assets.command('list <location>').description('List assets and their latest materialization'),
  ).action((location: string, opts: ClientOptions) =>
    runAction(opts, async () => {
      const res = await userApi(opts).request<{ codeLocation: { assets: AssetRow[] } | null }>(
        `query($name: String!) { codeLocation(name: $name) { assets { key groupName deps jobNames automationCondition freshnessPolicy lastMaterialization { runId timestamp } } } }`,
        { name: location },
      );
      if (!res.codeLocation) throw new OutpostError('UNKNOWN_LOCATION', { detail: location });
      const rows = res.codeLocation.assets;
      const notes = unsupportedLines(rows);
      return {
        data: rows,
        text: () =>
          rows.length
            ? [
                printTable(
                  ['ASSET', 'GROUP', 'DEPS', 'JOBS', 'LAST MATERIALIZED', 'RUN'],
                  rows.map((a) => [
                    a.key,
                    a.groupName ?? '',
                    a.deps.join(','),
                    a.jobNames.join(','),
                    a.lastMaterialization ? new Date(a.lastMaterialization.timestamp).toISOString() : 'never',
                    a.lastMaterialization?.runId ?? '',
                  ]),
                ),
                ...(notes.length
                  ? [
                      '',
                      'OUTPOST_ERR_UNSUPPORTED_DAGSTER_FEATURE: Outpost does not run Dagster’s automation daemon; materialize these by hand, or with a schedule or a sensor of your own:',
                      ...notes.map((n) => `  ${n}`),
                    ]
                  : []),
              ].join('\n')
            : `${location} has no assets`,
      };
    }),
  );
}
