// Which code a token may deploy. A location runs code with the agent host's authority, so
// by default only ADMIN names a `command`, and an EDITOR's module and working directory must
// resolve (realpath: no `..` or symlink escape) under the configured module roots. Refused
// before anything is written.
// Dagster locations follow the same rule: for an EDITOR the interpreter (`python`), the
// effective working directory (Python imports `moduleName`/`packageName` from it) and a
// `pythonFile` must lie under the module roots. The interpreter's own name is not followed (a
// venv's `bin/python` is a symlink to the system Python), its directory is; a system
// interpreter (`/usr/bin/python3`) is therefore ADMIN only, and so is a bare name (`python3`): the
// agent looks it up on its PATH, outside the roots. DAGSTER_HOME in a Dagster location's env is
// refused for every role: each run's DAGSTER_HOME is Outpost's own instance (the capture storages).
import { realpathSync } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { OutpostError } from '../../shared/errors.js';
import { roleAtLeast, type UserRole } from '../core/roles.js';

export interface DeployPolicy {
  /** Directories a non-ADMIN deploy may name paths under (realpath'd at check time). */
  moduleRoots: string[];
  /** Relative paths resolve against this (the agent's working directory in `outpost dev`). Default process.cwd(). */
  baseDir?: string;
}

/**
 * Environment that changes what a child process loads or runs (Node, the dynamic linker,
 * Python, shells; esbuild, which user code's processes run to transpile a file the compile
 * cache lacks, executes ESBUILD_BINARY_PATH; OpenSSL and glibc's iconv load modules named by
 * theirs): as good as a `command`, so ADMIN only.
 */
const CODE_LOADING_ENV =
  /^(NODE_OPTIONS|NODE_PATH|NODE_LOADER|TSX_.*|ESBUILD_.*|LD_.*|DYLD_.*|PYTHON.*|PATH|BASH_ENV|ENV|PERL5.*|RUBY.*|OPENSSL_(CONF|MODULES|ENGINES)|GCONV_PATH)$/i;

/** The realpath of `p`, resolving the longest existing prefix (the agent may create the rest). */
export function realpathLoose(p: string): string {
  try {
    return realpathSync(p);
  } catch {
    const parent = dirname(p);
    if (parent === p) return p;
    return join(realpathLoose(parent), basename(p));
  }
}

export function isUnder(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === '' || (!rel.startsWith('..' + sep) && rel !== '..' && !isAbsolute(rel));
}

interface SpecPaths {
  module?: string | null;
  dagster?: {
    python?: string | null;
    pythonFile?: string | null;
    moduleName?: string | null;
    packageName?: string | null;
    workingDirectory?: string | null;
  } | null;
  command?: readonly string[] | null;
  workingDirectory?: string | null;
  env?: Record<string, unknown> | null;
}

/** Set by Outpost for a Dagster location's processes; a location's env may not name them. */
const DAGSTER_RESERVED_ENV = /^DAGSTER_HOME$/i;

/** Throws INVALID_ARGUMENT, ROLE_REQUIRED or PATH_NOT_ALLOWED when `role` may not deploy `spec`. */
export function checkDeploy(spec: SpecPaths, role: UserRole, policy: DeployPolicy): void {
  const reserved = spec.dagster ? Object.keys(spec.env ?? {}).filter((k) => DAGSTER_RESERVED_ENV.test(k)) : [];
  if (reserved.length) {
    throw new OutpostError('INVALID_ARGUMENT', {
      detail: `env ${reserved.join(', ')}: Outpost sets DAGSTER_HOME for each Dagster run (its own instance, which captures the run's events); remove it from the location's env`,
    });
  }
  if (roleAtLeast(role, 'ADMIN')) return;
  if (spec.command?.length) {
    throw new OutpostError('ROLE_REQUIRED', {
      detail: `a code location with \`command\` needs ADMIN; this token is ${role}`,
      data: { required: 'ADMIN', role },
    });
  }
  const loading = Object.keys(spec.env ?? {}).filter((k) => CODE_LOADING_ENV.test(k));
  if (loading.length) {
    throw new OutpostError('ROLE_REQUIRED', {
      detail: `env ${loading.join(', ')} changes what code runs, which needs ADMIN; this token is ${role}`,
      data: { required: 'ADMIN', role },
    });
  }
  const roots = policy.moduleRoots.map((r) => realpathLoose(resolve(r)));
  const base = resolve(policy.baseDir ?? process.cwd());
  const check = (label: string, p: string): string => {
    const real = realpathLoose(resolve(base, p));
    if (!roots.some((r) => isUnder(real, r))) {
      throw new OutpostError('PATH_NOT_ALLOWED', {
        detail: `${label} resolves outside the module roots (${roots.join(', ') || 'none configured'})`,
        data: { field: label },
      });
    }
    return real;
  };
  const wd = spec.workingDirectory ? check('workingDirectory', spec.workingDirectory) : base;
  if (spec.module) check('module', resolve(wd, spec.module));
  const d = spec.dagster;
  if (d) {
    const dwd = check('dagster.workingDirectory', d.workingDirectory ?? base);
    if (d.pythonFile) check('dagster.pythonFile', resolve(dwd, d.pythonFile));
    if (d.python && !d.python.includes('/')) {
      throw new OutpostError('PATH_NOT_ALLOWED', {
        detail: `dagster.python "${d.python}" is looked up on the agent's PATH, outside the module roots; name the interpreter by its path (a venv's bin/python under the roots), or deploy as ADMIN`,
        data: { field: 'dagster.python' },
      });
    }
    if (d.python) {
      // The directory realpath'd, the file name kept: venv interpreters are symlinks out of it.
      const py = resolve(base, d.python);
      const real = join(realpathLoose(dirname(py)), basename(py));
      if (!roots.some((r) => isUnder(real, r))) {
        throw new OutpostError('PATH_NOT_ALLOWED', {
          detail: `dagster.python resolves outside the module roots (${roots.join(', ') || 'none configured'}); a system interpreter needs ADMIN`,
          data: { field: 'dagster.python' },
        });
      }
    }
  }
}
