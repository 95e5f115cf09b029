// The public SDK: everything a definitions module imports.
export { op, job, schedule, sensor, defineLocation } from './definitions.js';
export type {
  OpDef,
  JobDef,
  ScheduleDef,
  SensorDef,
  LocationDef,
  RunRequest,
  SkipResult,
  ScheduleContext,
  ScheduleResult,
  SensorContext,
  SensorResult,
  Tags,
  DefaultStatus,
} from './definitions.js';
export { staticPartitions, timeWindowPartitions } from './partitions.js';
export type { PartitionsDef, StaticPartitionsDef, TimeWindowPartitionsDef, Cadence } from './partitions.js';
export type { OpContext, OpLogger, LogFields } from './op-context.js';
export type { ConfigSchemaInput, JsonSchemaObject } from './config-schema.js';
export { SDK_VERSION } from './sdk-version.js';
