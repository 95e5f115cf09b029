// The SQLite store's checkpoints run on a thread of their own (sqlite-checkpointer.ts). A kill -9
// of a process writing through it, checkpoints under way, loses no committed row: recovery from
// the WAL is SQLite's own (synchronous=NORMAL is durable across a process crash). And a process
// that never closes its store still ends: the thread does not hold it.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { test } from 'node:test';
import { sql } from 'kysely';
import { Store } from '../../src/control-plane/store/store.js';
import { exitOf, kill9 } from '../support/process.js';
import { storedChunks } from '../support/stored-logs.js';
import { until } from '../support/wait.js';
import { CHUNK, chunkByte } from './support/sqlite-log-writer.js';

const WRITER = 'test/faults/support/sqlite-log-writer.ts';

function writer(file: string, mode: 'loop' | 'leave'): { child: ChildProcess; lines: string[] } {
  const child = spawn(process.execPath, ['--import', 'tsx', WRITER, file, mode], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout }).on('line', (l) => lines.push(l));
  return { child, lines };
}

const committed = (lines: string[]): number =>
  Math.max(0, ...lines.filter((l) => l.startsWith('committed ')).map((l) => Number(l.split(' ')[1])));

test('kill -9 of a process writing through the store, checkpoints under way, loses no committed row', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-ckpt-kill-'));
  const file = join(dir, 'outpost.db');
  const { child, lines } = writer(file, 'loop');
  try {
    // Killed once the thread has checkpointed at least twice and more is committed after that.
    await until(
      'two checkpoints and 4 MiB committed after them',
      () => {
        if (child.exitCode !== null) throw new Error(`the writer exited early (${child.exitCode})`);
        const at = lines.map((l, i) => (l.startsWith('checkpoint ') ? i : -1)).filter((i) => i >= 0);
        return at.length >= 2 && lines.slice(at[1]).filter((l) => l.startsWith('committed ')).length >= 4;
      },
      120_000,
    );
    await kill9(child);
    const end = committed(lines);
    const runId = lines.find((l) => l.startsWith('run '))!.split(' ')[1]!;
    const store = await Store.open({ url: `sqlite:${file}` });
    try {
      const [check] = (await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(store.db)).rows;
      assert.equal(check?.integrity_check, 'ok');
      const run = await store.db.selectFrom('runs').select('stdout_bytes').where('id', '=', runId).executeTakeFirst();
      const stored = Number(run?.stdout_bytes);
      assert.ok(stored >= end, `stored ${stored} bytes, ${end} reported committed before the kill`);
      const rows = await storedChunks(store, runId);
      let at = 0;
      for (const r of rows) {
        assert.equal(Number(r.offset), at, 'chunks are contiguous');
        const data = Buffer.from(r.data);
        const i = at / CHUNK;
        assert.ok(data.equals(Buffer.alloc(CHUNK, chunkByte(i))), `chunk ${i} holds its bytes`);
        at += data.length;
      }
      assert.equal(at, stored);
    } finally {
      await store.close();
    }
  } finally {
    await kill9(child);
    rmSync(dir, { recursive: true, force: true });
  }
});

test('a process that leaves its store open, the checkpoint thread running, still exits', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'outpost-ckpt-leave-'));
  const { child, lines } = writer(join(dir, 'outpost.db'), 'leave');
  try {
    const exit = await exitOf(child);
    assert.deepEqual(exit, { code: 0, signal: null });
    assert.ok(
      lines.some((l) => l.startsWith('checkpoint ')),
      'the thread checkpointed before the process ended',
    );
    assert.ok(lines.includes('leaving'));
  } finally {
    await kill9(child);
    rmSync(dir, { recursive: true, force: true });
  }
});
