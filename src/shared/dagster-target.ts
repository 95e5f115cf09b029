// What a run worker needs to know about a loaded Dagster code location: the interpreter and
// code pointer its code server reported (ListRepositories), so a run executes exactly the code
// that was loaded. The Dagster code-server manager produces it; the run launcher consumes it.

export interface DagsterTarget {
  /** `executable_path` from ListRepositories: the interpreter run workers must use. */
  python: string;
  /** Where the code server ran; a relative `python_file` in the pointer resolves against it. */
  workingDirectory: string;
  /** Raw serdes object from `repository_code_pointer_dict` (e.g. a FileCodePointer), passed through. */
  codePointer: Record<string, unknown>;
  /** `__repository__` for a `Definitions` object. */
  repositoryName: string;
  /** `entry_point` from ListRepositories, usually `["dagster"]`. */
  entryPoint: string[];
  locationName: string;
  /** `dagster_library_versions.dagster`, when reported. */
  dagsterVersion?: string;
}
