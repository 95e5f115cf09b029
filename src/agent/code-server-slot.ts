// One location's place in the code-server manager, and what may serve it: Outpost's SDK code
// server or a Dagster `api grpc` server.
import type { CodeLocationSpec } from '../shared/work-items.js';
import { killServer, type ServerProcess } from './code-server-spawn.js';
import { DagsterCodeServer } from './dagster/dagster-code-server.js';

/** A location's serving process. */
export type Served = ServerProcess | DagsterCodeServer;
export const isDagster = (s: Served): s is DagsterCodeServer => s instanceof DagsterCodeServer;
/** Stops a serving process (TERM, then KILL) and closes its client. */
export const stopServed = (s: Served): Promise<void> => (isDagster(s) ? s.stop() : killServer(s));

export interface Slot {
  name: string;
  version: number;
  spec: CodeLocationSpec;
  status: 'LOADING' | 'LOADED' | 'ERROR';
  error?: string;
  current?: Served;
  /** Version being started, so concurrent reconciles don't start it twice. */
  startingVersion?: number;
  restarts: number;
  restartTimer?: NodeJS.Timeout;
  waiters: Array<() => void>;
  removed: boolean;
}
