// A control plane alone, on SQLite in a temporary directory (no daemon, no web UI), for tests
// that talk to it as an agent or a user would. close() stops it and removes the directory.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startControlPlane, type ControlPlane, type ControlPlaneOptions } from '../../src/control-plane/index.js';
import type { Logger } from '../../src/shared/logger.js';

export interface BareControlPlane {
  cp: ControlPlane;
  /** The temporary directory, removed by close(). */
  dir: string;
  close(): Promise<void>;
}

/** `name` names the directory (outpost-<name>-…); `options` adds to or overrides the defaults. */
export async function startBareControlPlane(
  name: string,
  logger: Logger,
  options: Partial<ControlPlaneOptions> = {},
): Promise<BareControlPlane> {
  const dir = mkdtempSync(join(tmpdir(), `outpost-${name}-`));
  try {
    const cp = await startControlPlane({
      databaseUrl: `sqlite:${join(dir, 'db.sqlite')}`,
      port: 0,
      logger,
      daemon: false,
      web: false,
      ...options,
    });
    return {
      cp,
      dir,
      async close() {
        await cp.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
}
