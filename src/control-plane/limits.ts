// Request limits of the HTTP and GraphQL layer. Each is named in the error that reports it.
export interface ApiLimits {
  /** Largest request body in bytes. Default 16 MiB. */
  maxBodyBytes: number;
  /** Deepest selection nesting in an operation. Default 15. */
  maxQueryDepth: number;
  /** Most events per appendRunEvents call. Default 10000. */
  maxEventsPerBatch: number;
  /** Most items per claimWork call. Default 100. */
  maxClaimBatch: number;
  /** Longest claimWork long-poll; longer waits are shortened to this. Default 60 s. */
  maxWaitMs: number;
  /** Largest decoded appendComputeLogs chunk in bytes. Default 4 MiB. */
  maxLogChunkBytes: number;
  /** Largest `first` of a list query. Default 1000. */
  maxPageSize: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  maxBodyBytes: 16 * 1024 * 1024,
  maxQueryDepth: 15,
  maxEventsPerBatch: 10_000,
  maxClaimBatch: 100,
  maxWaitMs: 60_000,
  maxLogChunkBytes: 4 * 1024 * 1024,
  maxPageSize: 1000,
};
