// Loads the replies recorded from real Dagster code servers (scripts/record-dagster-fixtures.ts).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readJobData, readRepositoryData, type JobData } from '../../../../src/agent/dagster/serdes-readers.js';

export const MINORS = ['1.9', '1.11', '1.13'] as const;
export type Minor = (typeof MINORS)[number];

export interface Recorded {
  rpc: string;
  dagsterVersion: string;
  request: string;
  reply: string;
  error?: string;
}

export function recorded(minor: Minor, name: string): Recorded {
  return JSON.parse(readFileSync(join('test', 'fixtures', 'dagster', minor, `${name}.json`), 'utf8')) as Recorded;
}

/** The repository and every job snapshot, read as the agent would. */
export function repositoryAndJobs(minor: Minor) {
  const repository = readRepositoryData(recorded(minor, 'external-repository').reply);
  const jobs: Record<string, JobData> = {};
  for (const ref of repository.jobRefs) {
    const r = recorded(minor, `external-job.${ref.name}`);
    const job = readJobData({ jobData: r.reply, error: r.error ?? '' });
    if (!job.ok) throw new Error(`${minor} ${ref.name}: ${job.error.message}`);
    jobs[ref.name] = job.value;
  }
  return { repository, jobs };
}
