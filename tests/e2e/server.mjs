// A tiny static file server for the built site, as plain as any static host: correct MIME
// types and nothing else (no COOP/COEP, no caching headers), so the test proves the page
// needs no special server. The site is served under a sub-path to prove its URLs are relative.

import http from 'node:http';
import fs from 'node:fs';
import path from 'node:path';

const MIME = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.png': 'image/png',
  '.svg': 'image/svg+xml',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.gguf': 'application/octet-stream',
};

/**
 * @param {string} root     directory to serve (dist/)
 * @param {object} options
 *   prefix: the sub-path the site lives under, e.g. '/loupe/'
 *   synthetic: {[name]: () => Buffer}  extra files at prefix + name (e.g. a truncated model)
 *   headers: {[name]: value}  opt-in extra headers on every response (none by default; the
 *            benchmark and the e2e's threaded-build check send COOP/COEP for threads)
 *   hidden: (relativePath) => boolean  files to answer 404 for, as a host with only part of
 *            the site would (the e2e hides the relaxed-SIMD builds to test the fallback)
 * @returns {Promise<{url: string, requests: {method, path, status}[], close(): Promise<void>}>}
 */
export async function serveStatic(root, { prefix = '/', synthetic = {}, headers = {}, hidden = () => false } = {}) {
  const rootDir = path.resolve(root);
  const requests = [];
  const server = http.createServer((req, res) => {
    const record = (status) => requests.push({ method: req.method, path: req.url, status });
    const send = (status, body, type = 'text/plain; charset=utf-8') => {
      record(status);
      res.writeHead(status, { ...headers, 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
      res.end(req.method === 'HEAD' ? undefined : body);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return send(405, 'method not allowed\n');

    const pathname = decodeURIComponent(new URL(req.url, 'http://x').pathname);
    if (!pathname.startsWith(prefix)) return send(404, 'not found\n');
    const relative = pathname.slice(prefix.length);
    if (Object.hasOwn(synthetic, relative)) {
      const body = synthetic[relative]();
      return send(200, body, MIME[path.extname(relative)] ?? 'application/octet-stream');
    }
    if (hidden(relative)) return send(404, 'not found\n');
    const file = path.resolve(rootDir, relative === '' || relative.endsWith('/') ? `${relative}index.html` : relative);
    if (file !== rootDir && !file.startsWith(rootDir + path.sep)) return send(403, 'forbidden\n');
    fs.stat(file, (error, stat) => {
      if (error || !stat.isFile()) return send(404, 'not found\n');
      record(200);
      res.writeHead(200, {
        ...headers,
        'Content-Type': MIME[path.extname(file)] ?? 'application/octet-stream',
        'Content-Length': stat.size,
      });
      if (req.method === 'HEAD') return res.end();
      fs.createReadStream(file).pipe(res);
    });
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}${prefix}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
