// Shared by the Dagster code-server tests: the agent's real CodeServerManager driving real
// `dagster api grpc` servers. The control plane is the one part not under test here (its GraphQL
// does not take Dagster specs yet), so it is a recorder of the workspace the test sets and of the
// location reports the manager sends (the report path itself is tested in location-report.test.ts).
import { resolve } from 'node:path';
import { CodeServerManager, type CodeServerManagerOptions } from '../../../src/agent/code-server-manager.js';
import type { ControlPlaneClient, WorkspaceEntry } from '../../../src/agent/control-plane-client.js';
import { createLogger } from '../../../src/shared/logger.js';
import type { DagsterLocation } from '../../../src/shared/work-items.js';

export const python = process.env.OUTPOST_TEST_DAGSTER_PYTHON;
export const skip = python
  ? false
  : (process.env.OUTPOST_TEST_DAGSTER_SKIP_REASON ??
    'OUTPOST_TEST_DAGSTER_PYTHON is not set: run through scripts/run-tests.ts, which builds the Dagster venv');

export const EXAMPLE_DIR = resolve('examples', 'dagster');
export const LOCATIONS_DIR = resolve('test', 'fixtures', 'dagster', 'locations');

export interface Report {
  location: string;
  version: number;
  status: string;
  error?: string;
  snapshot?: unknown;
}

export class RecordingControlPlane {
  entries: WorkspaceEntry[] = [];
  readonly reports: Report[] = [];

  set(name: string, version: number, dagster: Partial<DagsterLocation>, env?: Record<string, string>): void {
    const entry = { name, version, spec: { dagster: { python, ...dagster }, ...(env ? { env } : {}) } };
    this.entries = [...this.entries.filter((e) => e.name !== name), entry];
  }

  /** An Outpost-SDK location (a definitions module). */
  setModule(name: string, version: number, module: string): void {
    this.entries = [...this.entries.filter((e) => e.name !== name), { name, version, spec: { module } }];
  }

  last(location: string): Report | undefined {
    return this.reports.filter((r) => r.location === location).at(-1);
  }

  client(): ControlPlaneClient {
    return {
      workspace: () => Promise.resolve(this.entries),
      reportCodeLocation: (input: Report) => {
        this.reports.push(input);
        return Promise.resolve(true);
      },
    } as unknown as ControlPlaneClient;
  }
}

export function dagsterManager(
  cp: RecordingControlPlane,
  opts: Partial<CodeServerManagerOptions> = {},
): CodeServerManager {
  return new CodeServerManager({
    controlPlane: cp.client(),
    agentId: () => 'agent-test',
    logger: createLogger({ name: 'test', level: 'silent' }),
    healthIntervalMs: 1_000,
    ...opts,
  });
}

/** Polls until `fn` is true (or throws with `what`). */
export async function until(what: string, fn: () => boolean | Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for: ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
