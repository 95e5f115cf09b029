// The UI's static files (ES modules, CSS, icons), read once from ./assets and served from
// memory with ETags. No CDN and no build step: what is in the folder is what ships.
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, extname } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.html': 'text/html; charset=utf-8',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

export interface StaticAsset {
  body: Uint8Array<ArrayBuffer>;
  contentType: string;
  etag: string;
}

export const ASSETS_DIR = fileURLToPath(new URL('./assets/', import.meta.url));

/** Loads every file under `dir`, keyed by its path relative to it with `/` separators. */
export function loadAssets(dir: string = ASSETS_DIR): Map<string, StaticAsset> {
  const out = new Map<string, StaticAsset>();
  const walk = (abs: string, rel: string): void => {
    for (const name of readdirSync(abs).sort()) {
      const path = join(abs, name);
      const key = rel ? `${rel}/${name}` : name;
      if (statSync(path).isDirectory()) walk(path, key);
      else {
        const type = CONTENT_TYPES[extname(name)];
        if (!type) continue;
        const body = readFileSync(path);
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        out.set(key, { body: new Uint8Array(body), contentType: type, etag });
      }
    }
  };
  walk(dir, '');
  return out;
}

/** Serves one asset, answering 304 when the browser's copy is current. */
export function serveAsset(asset: StaticAsset, request: Request, headers: Headers): Response {
  headers.set('content-type', asset.contentType);
  headers.set('etag', asset.etag);
  // Revalidate every time: assets change with the deployed version and are tiny.
  headers.set('cache-control', 'no-cache');
  if (request.headers.get('if-none-match') === asset.etag) return new Response(null, { status: 304, headers });
  return new Response(request.method === 'HEAD' ? null : asset.body, { status: 200, headers });
}
