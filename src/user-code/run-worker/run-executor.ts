// Executes a job's ops in dependency order, independent ops concurrently up to a limit, and
// turns what happens into run events. No process concerns here (signals, files, exit codes):
// the run worker owns those and hands in `emit`, `checkpoint` and an AbortSignal.
import { serializeError, type SerializedError } from '../../shared/run-spool.js';
import { boundedLogData, boundedLogMessage } from '../../shared/message-limits.js';
import type { JobDef, OpDef } from '../sdk/definitions.js';
import type { NewEvent } from './event-spool.js';
import { executionPlan, type PlanStep } from '../common/execution-plan.js';
import { createOpLogger, type OpContext } from '../sdk/op-context.js';

export interface ExecuteOptions {
  runId: string;
  job: JobDef;
  /** Validated run config. */
  runConfig: unknown;
  /** Ops to run; empty means all. */
  opSelection?: readonly string[];
  /** Ops running at once. */
  maxConcurrency: number;
  signal: AbortSignal;
  emit: (event: NewEvent) => void;
  /** Make everything emitted so far durable (fsync). */
  checkpoint: () => void;
}

export type RunOutcome =
  { status: 'success' } | { status: 'failure'; failedSteps: string[]; error: SerializedError } | { status: 'canceled' };

export async function executeJob(opts: ExecuteOptions): Promise<RunOutcome> {
  const plan = executionPlan(opts.job, opts.opSelection);
  const ops = new Map(opts.job.ops.map((o) => [o.name, o]));
  const results = new Map<string, unknown>();
  const failed = new Map<string, SerializedError>();
  const notRun = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let pending = [...plan];

  const launch = (step: PlanStep): void => {
    const done = runStep(ops.get(step.key)!, opts, results)
      .then(
        (value) => void results.set(step.key, value),
        (err: unknown) => void failed.set(step.key, serializeError(err)),
      )
      .finally(() => running.delete(step.key));
    running.set(step.key, done);
  };

  // Each pass either starts a step, retires one, or waits for one: bounded by 3 × steps.
  for (let pass = 0; pass <= plan.length * 3 + 1 && (pending.length || running.size); pass++) {
    if (!opts.signal.aborted) {
      for (const step of pending) {
        const blockedBy = step.dependsOn.find((d) => failed.has(d) || notRun.has(d));
        if (blockedBy) {
          notRun.add(step.key);
          opts.emit({
            type: 'LOG',
            stepKey: step.key,
            level: 'warn',
            message: `Skipped ${step.key}: upstream step ${blockedBy} did not succeed`,
          });
        } else if (running.size < opts.maxConcurrency && step.dependsOn.every((d) => results.has(d))) {
          launch(step);
        }
      }
      pending = pending.filter((s) => !notRun.has(s.key) && !running.has(s.key) && !results.has(s.key));
      pending = pending.filter((s) => !failed.has(s.key));
    } else {
      pending = [];
    }
    if (running.size) await Promise.race(running.values());
  }

  if (opts.signal.aborted) return { status: 'canceled' };
  if (failed.size) {
    const failedSteps = [...failed.keys()];
    return { status: 'failure', failedSteps, error: failed.get(failedSteps[0]!)! };
  }
  return { status: 'success' };
}

async function runStep(op: OpDef, opts: ExecuteOptions, results: Map<string, unknown>): Promise<unknown> {
  const stepKey = op.name;
  const started = performance.now();
  opts.emit({ type: 'STEP_START', stepKey, message: `Started ${stepKey}` });
  opts.checkpoint();
  try {
    let config = opts.runConfig;
    if (op.config) {
      const checked = await op.config.check(opts.runConfig);
      if (!checked.ok) throw new Error(`config for op ${stepKey} is invalid: ${checked.issues.join('; ')}`);
      config = checked.value;
    }
    const inputs: Record<string, unknown> = {};
    for (const [name, upstream] of Object.entries(op.ins)) inputs[name] = results.get(upstream.name);
    const metadata: Record<string, unknown> = {};
    const context: OpContext = {
      runId: opts.runId,
      jobName: opts.job.name,
      opName: stepKey,
      config,
      signal: opts.signal,
      log: createOpLogger((level, message, fields) =>
        // Cut to their limits here: the agent reads a spool line whole, and stores it as one event.
        opts.emit({
          type: 'LOG',
          stepKey,
          level,
          message: boundedLogMessage(message),
          ...(fields ? { data: boundedLogData(toJsonRecord(fields)) } : {}),
        }),
      ),
      addOutputMetadata: (m) => Object.assign(metadata, toJsonRecord(m)),
    };
    const value: unknown = await op.fn(context, inputs);
    opts.emit({
      type: 'STEP_OUTPUT',
      stepKey,
      message: `${stepKey} yielded its output`,
      data: { output: 'result', valueType: describeType(value), metadata },
    });
    opts.emit({
      type: 'STEP_SUCCESS',
      stepKey,
      message: `Finished ${stepKey}`,
      data: { durationMs: Math.round(performance.now() - started) },
    });
    opts.checkpoint();
    return value;
  } catch (err) {
    const durationMs = Math.round(performance.now() - started);
    if (opts.signal.aborted) {
      // Terminated, not failed: whatever the op threw (an AbortError, usually) is the stop itself.
      opts.emit({
        type: 'STEP_CANCELED',
        stepKey,
        message: `${stepKey} canceled: the run was terminated`,
        data: { durationMs },
      });
      opts.checkpoint();
      throw err;
    }
    const error = serializeError(err);
    opts.emit({
      type: 'STEP_FAILURE',
      stepKey,
      message: `${stepKey} failed: ${error.message}`,
      error,
      data: { durationMs },
    });
    opts.checkpoint();
    throw err;
  }
}

function describeType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

/**
 * Log fields and metadata must survive JSON: BigInt, Errors and cycles become strings. The common
 * case, a plain object of strings, numbers, booleans and nulls, serializes the same without the
 * round trip (a stringify + parse per LOG event was a third of the run worker's cost per event),
 * so it is only copied; anything else takes the round trip.
 */
function toJsonRecord(fields: Record<string, unknown>): Record<string, unknown> {
  if (isFlatJson(fields)) return { ...fields };
  try {
    return JSON.parse(
      JSON.stringify(fields, (_k, v: unknown) => {
        if (typeof v === 'bigint') return v.toString();
        if (v instanceof Error) return serializeError(v);
        return v;
      }),
    ) as Record<string, unknown>;
  } catch (err) {
    return { unserializable: String(err) };
  }
}

/** A plain object whose own values are all JSON primitives: JSON keeps it as it is. */
function isFlatJson(fields: Record<string, unknown>): boolean {
  const proto: unknown = Object.getPrototypeOf(fields);
  if (proto !== Object.prototype && proto !== null) return false;
  for (const key in fields) {
    const v = fields[key];
    if (v !== null && typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') return false;
  }
  return true;
}
