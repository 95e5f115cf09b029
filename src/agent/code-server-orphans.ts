// Orphan reaping: a kill -9'd agent cannot stop its code servers, so each one's pid and start
// time is recorded under <dataDir>/code-servers/ while it runs; the next agent on the same data
// dir stops whatever is still recorded there before it starts its own.
import type { ChildProcess } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../shared/logger.js';
import { isSameLiveProcess, readProcStat } from './launchers/proc.js';

const codeServersDir = (dataDir: string): string => join(dataDir, 'code-servers');

/** Kills code servers a previous (crashed) agent on this data dir left behind. */
export function reapOrphanCodeServers(dataDir: string, logger: Logger): void {
  const dir = codeServersDir(dataDir);
  let files: string[] = [];
  try {
    files = readdirSync(dir);
  } catch {
    return;
  }
  for (const f of files) {
    try {
      const rec = JSON.parse(readFileSync(join(dir, f), 'utf8')) as { pid: number; startTime: number };
      if (isSameLiveProcess(rec.pid, rec.startTime)) {
        process.kill(rec.pid, 'SIGKILL');
        logger.warn({ pid: rec.pid }, 'stopped a code server left by a previous agent');
      }
    } catch {
      // Unreadable or already gone: nothing to stop.
    }
    rmSync(join(dir, f), { force: true });
  }
}

/** Records a running code server; the record goes when it exits. */
export function recordCodeServer(dataDir: string, child: ChildProcess): void {
  if (child.pid === undefined) return;
  const dir = codeServersDir(dataDir);
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${child.pid}.json`);
  writeFileSync(file, JSON.stringify({ pid: child.pid, startTime: readProcStat(child.pid)?.startTime ?? -1 }));
  child.once('exit', () => rmSync(file, { force: true }));
}
