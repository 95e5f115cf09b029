// What a run launcher needs from a loaded Dagster code server to start `dagster api execute_run`
// for one of its jobs. Produced by the code-server manager (`dagsterTarget(location)`), consumed by
// the Dagster run launcher; both import this type so neither depends on the other.

export interface DagsterTarget {
  /** The interpreter that serves the location: ListRepositories' `executable_path`. */
  python: string;
  /** cwd of the run worker (required: a `python_file` pointer is relative to it). */
  workingDirectory: string;
  /**
   * The repository's code pointer exactly as ListRepositories returned it (a serdes object such as
   * `{"__class__": "FileCodePointer", ...}`), to be placed in the run's origin without re-shaping.
   */
  codePointer: Record<string, unknown>;
  /** `__repository__` for a `Definitions` object. */
  repositoryName: string;
  /** ListRepositories' `entry_point` (usually `["dagster"]`). */
  entryPoint: string[];
  locationName: string;
  /** `dagster_library_versions.dagster` of the server, e.g. "1.13.29". */
  dagsterVersion: string;
  /** The location version the serving code server was started for. */
  locationVersion: number;
}
