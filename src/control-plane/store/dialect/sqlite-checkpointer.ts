// Keeps SQLite's WAL checkpoints off the control plane's one thread. By default the connection
// that commits past 1000 WAL pages checkpoints right there, inside COMMIT: it copies the WAL into
// the database and fsyncs, and with 4 MiB log chunks every commit did (20-170 ms wall for ~10 ms
// of CPU), while nothing else was served. Here the main connection's autocheckpoint is off; after
// each of its commits this reads the WAL's size from the wal-index (the -shm file, two reads of
// one page the kernel already holds) and, past the threshold, asks a thread with a connection of
// its own (sqlite-checkpoint-thread.mjs) for a PASSIVE checkpoint, which never waits for the
// writer or readers. So that the WAL cannot grow without bound while writes outrun the copying,
// once the WAL holds WAL_BOUND_BYTES the thread runs a RESTART checkpoint and the main
// connection's writes wait for it (asynchronously: reads are still served meanwhile).
import { EventEmitter } from 'node:events';
import { closeSync, openSync, readSync } from 'node:fs';
import { endianness } from 'node:os';
import { Worker } from 'node:worker_threads';
import type SQLite from 'better-sqlite3';

/** Pages in the WAL not yet copied into the database past which a checkpoint is asked for (SQLite's own default). */
export const WAL_CHECKPOINT_PAGES = 1000;
/** Size of the WAL past which writes wait for a RESTART checkpoint, so it cannot grow without bound. */
export const WAL_BOUND_BYTES = 16 * 1024 * 1024;
/** How long the thread's RESTART checkpoint waits for a writer or reader (another process's) to finish. */
const RESTART_BUSY_MS = 1000;
/** The thread ends after this long without a checkpoint asked for (~9 MB of RSS back); the next one starts it again. */
export const THREAD_IDLE_MS = 60_000;
/** How long close waits for the thread's last checkpoint before ending it. */
const CLOSE_WAIT_MS = 10_000;

const THREAD = new URL('./sqlite-checkpoint-thread.mjs', import.meta.url);

export type CheckpointMode = 'PASSIVE' | 'RESTART';

/** One checkpoint's answer: `log` WAL frames, `checkpointed` of them in the database; busy 1 = it could not finish. */
export interface CheckpointResult {
  mode: CheckpointMode;
  busy: number;
  log: number;
  checkpointed: number;
  ms: number;
}

export interface WalState {
  pageSize: number;
  /** Frames in the WAL (its extent since it was last restarted). */
  frames: number;
  /** Frames already copied into the database. */
  backfilled: number;
}

export interface CheckpointerOptions {
  /** Absolute path of the database file. */
  file: string;
  thresholdPages?: number;
  boundBytes?: number;
  /** THREAD_IDLE_MS unless told (tests). */
  idleMs?: number;
}

/**
 * Events: 'checkpoint' (CheckpointResult, also the last one at close), 'failed' (Error: the
 * thread could not run; the main connection checkpoints on its own again, as SQLite does by
 * default), 'closed'.
 */
export class SqliteCheckpointer extends EventEmitter {
  private worker?: Worker;
  private shm?: number;
  private readonly header = Buffer.alloc(136);
  private inFlight?: { mode: CheckpointMode; done: Promise<void>; settle: () => void };
  private closing?: Promise<void>;
  private idleTimer?: NodeJS.Timeout;
  /** A thread ended for idleness, until it has exited. */
  private retiring?: Promise<void>;
  private failed = false;
  /** The last checkpoint could not copy every frame (a reader's snapshot, or busy). */
  private heldBack = false;
  /** The WAL held WAL_BOUND_BYTES or more at the last look. */
  private overBound = false;
  private readonly thresholdPages: number;
  private readonly boundBytes: number;

  constructor(
    private readonly handle: SQLite.Database,
    private readonly opts: CheckpointerOptions,
  ) {
    super();
    this.thresholdPages = opts.thresholdPages ?? WAL_CHECKPOINT_PAGES;
    this.boundBytes = opts.boundBytes ?? WAL_BOUND_BYTES;
    handle.pragma('wal_autocheckpoint = 0');
  }

  /** Whether a thread is running (started on the first checkpoint asked for). */
  get threadRunning(): boolean {
    return this.worker !== undefined;
  }

  /** After a commit on the main connection: asks for a checkpoint when the WAL has grown past the threshold. */
  afterCommit(): void {
    this.check();
  }

  /** Before a write on the main connection: while the WAL is past its bound, the checkpoint to wait for. */
  beforeWrite(): Promise<void> | undefined {
    return this.overBound && !this.heldBack ? this.inFlight?.done : undefined;
  }

  /**
   * The RESTART checkpoint under way, if any: it holds SQLite's write lock on the thread, so a
   * write about to BEGIN waits for it here rather than in SQLite's busy handler, which sleeps on
   * the control plane's thread. Asked again once a write has Kysely's connection: a write that
   * waited for the connection may have passed beforeWrite before the commit ahead of it asked.
   */
  restartInFlight(): Promise<void> | undefined {
    return this.inFlight?.mode === 'RESTART' ? this.inFlight.done : undefined;
  }

  /**
   * The WAL's size as the wal-index header says (https://www.sqlite.org/walformat.html): two
   * copies of the header (48 bytes each) that agree, then nBackfill. Native byte order.
   * undefined when there is no -shm file yet or a writer of another process is mid-update.
   */
  walState(): WalState | undefined {
    if (this.shm === undefined) {
      try {
        this.shm = openSync(`${this.opts.file}-shm`, 'r');
      } catch {
        return undefined;
      }
    }
    const h = this.header;
    if (readSync(this.shm, h, 0, h.length, 0) < h.length) return undefined;
    if (!h.subarray(0, 48).equals(h.subarray(48, 96))) return undefined;
    const le = endianness() === 'LE';
    const u32 = (at: number): number => (le ? h.readUInt32LE(at) : h.readUInt32BE(at));
    const u16 = (at: number): number => (le ? h.readUInt16LE(at) : h.readUInt16BE(at));
    if (u32(0) !== 3007000) return this.fail(new Error(`unknown wal-index version ${u32(0)}`));
    const sz = u16(14);
    return { pageSize: (sz & 0xfe00) + ((sz & 1) << 16), frames: u32(16), backfilled: u32(96) };
  }

  private check(): void {
    if (this.closing || this.failed) return;
    const wal = this.walState();
    if (!wal) return;
    // Read even while a checkpoint is under way: past the bound, writes wait for it to end. Once
    // every frame is copied, the next write starts the WAL over: nothing to wait for.
    this.overBound = wal.frames * (wal.pageSize + 24) >= this.boundBytes && wal.backfilled < wal.frames;
    if (this.inFlight) return;
    if (this.overBound && !this.heldBack) this.request('RESTART');
    else if (wal.frames - wal.backfilled >= this.thresholdPages) this.request('PASSIVE');
  }

  private request(mode: CheckpointMode): void {
    const worker = this.thread();
    // Referenced while asked: a process awaiting a write behind it must not exit meanwhile.
    worker.ref();
    let settle!: () => void;
    const done = new Promise<void>((r) => (settle = r));
    this.inFlight = { mode, done, settle };
    worker.postMessage({ type: 'checkpoint', mode });
    clearTimeout(this.idleTimer);
  }

  /** Ends an idle thread (its connection closed after a last PASSIVE checkpoint); not the checkpointer. */
  private retire(): void {
    const worker = this.worker;
    if (!worker || this.inFlight || this.closing || this.failed) return;
    this.worker = undefined;
    this.retiring = new Promise<void>((r) => worker.once('exit', () => r()));
    worker.postMessage({ type: 'close' });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(THREAD, {
      workerData: { file: this.opts.file, busyTimeoutMs: RESTART_BUSY_MS },
      // No tsx in the thread (plain JS), and nothing of the process's flags.
      execArgv: [],
    });
    worker.unref();
    worker.on('message', (m: { type: string } & Partial<CheckpointResult> & { message?: string }) => {
      // A retired thread's last answer is not an answer to anything asked of this one.
      if (m.type === 'closed' || worker !== this.worker) return;
      const settled = this.inFlight;
      this.inFlight = undefined;
      if (!this.closing) worker.unref();
      if (m.type === 'failed') this.emit('failed', new Error(`checkpoint ${m.mode}: ${m.message}`));
      else this.emit('checkpoint', m);
      // Held back by a reader's snapshot (another connection): retried after the next commit,
      // and the bound is not enforced until a checkpoint gets through, so writes go on meanwhile.
      const complete = m.type === 'checkpoint' && !m.busy && m.checkpointed === m.log;
      this.heldBack = !complete;
      settled?.settle();
      if (!this.closing) {
        this.idleTimer = setTimeout(() => this.retire(), this.opts.idleMs ?? THREAD_IDLE_MS);
        this.idleTimer.unref();
      }
      // Complete, but the WAL may have grown meanwhile: ask again at once if it is still past.
      if (complete) this.check();
    });
    worker.on('error', (err) => this.fail(err));
    worker.on('exit', () => {
      if (worker === this.worker && !this.closing) this.fail(new Error('the checkpoint thread exited'));
    });
    this.worker = worker;
    return worker;
  }

  /** The thread cannot run: the main connection checkpoints on its own again, as before. */
  private fail(err: Error): undefined {
    if (this.failed || this.closing) return undefined;
    this.failed = true;
    this.handle.pragma(`wal_autocheckpoint = ${WAL_CHECKPOINT_PAGES}`);
    this.inFlight?.settle();
    this.inFlight = undefined;
    void this.worker?.terminate();
    this.emit('failed', err);
    return undefined;
  }

  /** A last checkpoint on the thread, then the thread ends; before the main connection closes. */
  close(): Promise<void> {
    this.closing ??= this.stop();
    return this.closing;
  }

  private async stop(): Promise<void> {
    clearTimeout(this.idleTimer);
    const worker = this.worker;
    const exits: Promise<void>[] = this.retiring ? [this.retiring] : [];
    if (worker && !this.failed) {
      worker.ref();
      exits.push(new Promise<void>((r) => worker.once('exit', () => r())));
      worker.postMessage({ type: 'close' });
    }
    if (exits.length) {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), CLOSE_WAIT_MS)));
      if ((await Promise.race([Promise.all(exits), late])) === 'late') await worker?.terminate();
      clearTimeout(timer);
    }
    this.inFlight?.settle();
    this.inFlight = undefined;
    if (this.shm !== undefined) closeSync(this.shm);
    this.shm = undefined;
    this.worker = undefined;
    this.emit('closed');
  }
}
