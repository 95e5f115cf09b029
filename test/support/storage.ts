// Runs a storage test once per dialect: SQLite on a temp file, and PostgreSQL on a fresh
// database in the cluster the test runner started (OUTPOST_TEST_PG_URL).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe } from 'node:test';
import pg from 'pg';
import type { Dialect } from '../../src/control-plane/store/connect.js';

export interface DialectTarget {
  dialect: Dialect;
  /** A URL for a brand-new, empty database. */
  freshUrl(): Promise<string>;
}

const sqliteTarget: DialectTarget = {
  dialect: 'sqlite',
  freshUrl: () => {
    const dir = mkdtempSync(join(tmpdir(), 'outpost-sqlite-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    return Promise.resolve(`sqlite:${join(dir, 'outpost.db')}`);
  },
};

let dbCounter = 0;
const postgresTarget = (adminUrl: string): DialectTarget => ({
  dialect: 'postgres',
  async freshUrl() {
    const name = `t_${process.pid}_${Date.now().toString(36)}_${dbCounter++}`;
    const client = new pg.Client({ connectionString: adminUrl });
    await client.connect();
    try {
      await client.query(`CREATE DATABASE ${name}`);
    } finally {
      await client.end();
    }
    const u = new URL(adminUrl);
    u.pathname = `/${name}`;
    return u.toString();
  },
});

/** Why PostgreSQL tests are skipped, or undefined when they run. */
export function postgresSkipReason(): string | undefined {
  if (process.env.OUTPOST_TEST_PG_URL) return undefined;
  return process.env.OUTPOST_TEST_PG_SKIP_REASON ?? 'OUTPOST_TEST_PG_URL is not set (run the suite through `npm test`)';
}

/**
 * `describe` once per dialect. PostgreSQL is skipped, with the reason printed, only when
 * no server could be started, and never in CI (the runner fails first).
 */
export function describeEachDialect(name: string, fn: (target: DialectTarget) => void): void {
  describe(`${name} [sqlite]`, () => fn(sqliteTarget));
  const skip = postgresSkipReason();
  if (skip) {
    console.warn(`skipping "${name} [postgres]": ${skip}`);
    describe(`${name} [postgres]`, { skip }, () => undefined);
  } else {
    describe(`${name} [postgres]`, () => fn(postgresTarget(process.env.OUTPOST_TEST_PG_URL!)));
  }
}

/**
 * `describe` on PostgreSQL alone, for a case SQLite cannot have (`why`, printed in the title): an
 * interleaving held with PostgreSQL locks, where SQLite serializes every writer. Skipped as
 * describeEachDialect skips PostgreSQL.
 */
export function describePostgres(name: string, why: string, fn: (target: DialectTarget) => void): void {
  const skip = postgresSkipReason();
  if (skip) console.warn(`skipping "${name} [postgres]": ${skip}`);
  describe(`${name} [postgres only: ${why}]`, skip ? { skip } : {}, () => {
    if (!skip) fn(postgresTarget(process.env.OUTPOST_TEST_PG_URL!));
  });
}
