// The README's Dagster screenshots: a Dagster run's page and a location's asset lineage. A
// helper, not a test, so that the scripted-agent browser test and a test against a real
// Dagster run can both take them; written only when OUTPOST_DOCS_SHOTS is set.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';

/** docs/ when OUTPOST_DOCS_SHOTS is set, else undefined (no screenshot is written). */
export const DOCS_SHOTS_DIR = process.env.OUTPOST_DOCS_SHOTS
  ? resolve(import.meta.dirname, '..', '..', 'docs')
  : undefined;

export interface DagsterShotsInput {
  /** The control plane's base URL; the page must already be signed in. */
  url: string;
  /** A finished Dagster run whose events include an asset materialization. */
  runId: string;
  /** The Dagster location whose assets to show. */
  location: string;
  /** Where to write; default DOCS_SHOTS_DIR (nothing is written when neither is set). */
  dir?: string;
}

/** Writes ui-dagster-run.png and ui-dagster-assets.png; returns the paths written. */
export async function takeDagsterShots(page: Page, o: DagsterShotsInput): Promise<string[]> {
  const dir = o.dir ?? DOCS_SHOTS_DIR;
  if (!dir) return [];
  mkdirSync(dir, { recursive: true });
  const written: string[] = [];

  await page.goto(`${o.url}/runs/${encodeURIComponent(o.runId)}`);
  await page.locator('h1 [data-status]').waitFor();
  const materialized = page.locator('tr[data-type="ASSET_MATERIALIZATION"]').first();
  await materialized.locator('.asset-link').waitFor();
  // The event log scrolls on its own: bring the materialization to its middle, keep the header.
  await materialized.evaluate((row: HTMLElement) => {
    const box = row.closest('.table-scroll');
    if (box) box.scrollTop = row.offsetTop - box.clientHeight / 2;
  });
  const run = join(dir, 'ui-dagster-run.png');
  await page.screenshot({ path: run, fullPage: true });
  written.push(run);

  await page.goto(`${o.url}/locations/${encodeURIComponent(o.location)}/assets`);
  await page.locator('#asset-graph svg .asset-node').first().waitFor();
  const assets = join(dir, 'ui-dagster-assets.png');
  await page.screenshot({ path: assets });
  written.push(assets);
  return written;
}
