// The option parser every command registers with, through this one module: the build writes it
// as a single file holding the package (scripts/build.mjs, BUNDLES), so a CLI start reads and
// compiles one file instead of commander's CommonJS files (each resolved, read and scanned for
// its exports on the way into ESM). From source it is the package itself.
export { Command, Option } from 'commander';
