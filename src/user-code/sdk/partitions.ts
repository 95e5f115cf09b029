// The SDK's partitions: defined in src/shared/partitions.ts, which the control plane also uses to
// check a launch's partition key against a snapshot without importing user code.
export {
  MAX_PARTITION_KEYS,
  formatInZone,
  partitionKeys,
  staticPartitions,
  timeWindowPartitions,
  type Cadence,
  type PartitionsDef,
  type StaticPartitionsDef,
  type TimeWindowPartitionsDef,
} from '../../shared/partitions.js';
