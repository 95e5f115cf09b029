// What the signed-in role may do, as the server rendered it into the page (core/roles.ts is
// the one source). Views hide or disable the controls a role cannot use; the API refuses them
// regardless.
/* global document */

const meta = (name) => document.querySelector(`meta[name="${name}"]`)?.getAttribute('content') ?? '';

export const role = meta('outpost-role') || 'VIEWER';
const allowed = new Set(meta('outpost-can').split(/\s+/).filter(Boolean));

/** True when this session may call the user-API mutation (or guarded query) `action`. */
export const can = (action) => allowed.has(action);
