// require() of TypeScript under the light loader (ts-hooks.ts). Node 20's CommonJS loader does not
// consult hooks registered with module.register, so a `require('./x.ts')` (e.g. through
// createRequire) would read TypeScript as JavaScript. As tsx's CommonJS half does, the TypeScript
// extensions get a handler that compiles the file as CommonJS (esbuild, loaded on the first such
// require only: a location that never requires TypeScript never pays for it).
import Module from 'node:module';
import { transpileSync } from '../../shared/ts-transpile.js';

interface CompilingModule {
  _compile(code: string, filename: string): unknown;
}
type ExtensionHandler = (module: CompilingModule, filename: string) => void;

export const REQUIRE_EXTENSIONS = ['.ts', '.cts', '.mts', '.tsx'];

export function registerTypeScriptRequire(): void {
  // `Module._extensions` is Node's documented-deprecated but stable hook for this (tsx uses it).
  const handlers = (Module as unknown as { _extensions: Record<string, ExtensionHandler> })._extensions;
  for (const ext of REQUIRE_EXTENSIONS) {
    handlers[ext] ??= (module, filename) => {
      module._compile(transpileSync(filename), filename);
    };
  }
}
