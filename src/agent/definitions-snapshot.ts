// Pure mapping from a code server's GetDefinitions answer to the control plane's
// LocationSnapshot (plain JSON, validated by the shared zod schema).
import {
  DefaultStatus,
  type GetDefinitionsResponse,
  type UserCodeError,
} from '../gen/outpost/codeserver/v1/code_server.js';
import { OutpostError } from '../shared/errors.js';
import { LocationSnapshotSchema, type LocationSnapshot } from '../shared/location-snapshot.js';
import { formatZodIssues } from '../shared/zod-issues.js';

const status = (s: DefaultStatus): 'RUNNING' | 'STOPPED' =>
  s === DefaultStatus.DEFAULT_STATUS_RUNNING ? 'RUNNING' : 'STOPPED';

function parseSchema(json: string, job: string): Record<string, unknown> {
  if (!json) return {};
  try {
    const v: unknown = JSON.parse(json);
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail: `job ${job}: config schema is not a JSON object` });
}

export function snapshotFromDefinitions(
  defs: GetDefinitionsResponse,
  server: { serverId?: string; sdkVersion?: string } = {},
): LocationSnapshot {
  const raw = {
    jobs: defs.jobs.map((j) => ({
      name: j.name,
      description: j.description,
      tags: j.tags,
      configSchema: parseSchema(j.configSchemaJson, j.name),
      ops: j.ops.map((o) => ({
        name: o.name,
        description: o.description,
        inputs: o.inputs.map((i) => ({ name: i.name, fromOp: i.fromOp, fromOutput: i.fromOutput })),
        outputs: o.outputs,
        tags: o.tags,
      })),
      ...(j.partitions ? { partitions: j.partitions } : {}),
    })),
    schedules: defs.schedules.map((s) => ({
      name: s.name,
      job: s.job,
      cron: s.cron,
      timezone: s.timezone || 'UTC',
      defaultStatus: status(s.defaultStatus),
      description: s.description,
    })),
    sensors: defs.sensors.map((s) => ({
      name: s.name,
      job: s.job,
      minIntervalSeconds: s.minIntervalSeconds > 0 ? s.minIntervalSeconds : 30,
      defaultStatus: status(s.defaultStatus),
      description: s.description,
    })),
    partitions: defs.partitions.map((p) =>
      p.kind?.$case === 'timeWindow'
        ? {
            name: p.name,
            kind: 'timeWindow' as const,
            start: p.kind.value.start,
            cadence: p.kind.value.cadence,
            timezone: p.kind.value.timezone,
            format: p.kind.value.format,
          }
        : { name: p.name, kind: 'static' as const, keys: p.kind?.$case === 'static' ? p.kind.value.keys : [] },
    ),
    ...(server.serverId ? { serverId: server.serverId } : {}),
    ...(server.sdkVersion ? { sdkVersion: server.sdkVersion } : {}),
  };
  const parsed = LocationSnapshotSchema.safeParse(raw);
  if (!parsed.success) {
    throw new OutpostError('CODE_SERVER_BAD_RESPONSE', { detail: formatZodIssues(parsed.error) });
  }
  return parsed.data;
}

/** One readable line plus stack for a user-code error carried as data. */
export function formatUserCodeError(e: UserCodeError): string {
  const head = `${e.name || 'Error'}: ${e.message}${e.phase ? ` (during ${e.phase})` : ''}`;
  return e.stack ? `${head}\n${e.stack}` : head;
}
