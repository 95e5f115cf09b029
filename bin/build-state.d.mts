// Types of build-state.mjs (plain JS: the bin and the build scripts run without tsx).
export declare const COMPILED_DIRS: string[];
export declare const STAMP: string;
export declare function buildState(root: string, out?: string): 'fresh' | 'missing' | 'stale';
