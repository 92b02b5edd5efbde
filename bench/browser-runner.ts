// Serves the bench page cross-origin isolated on localhost and runs it in headless Chromium.
import { createReadStream, existsSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve } from 'node:path';
import { chromium } from 'playwright-core';
import type { BenchResult } from './bench-core';

export interface ChromiumRunOptions {
  packDir: string;
  threads: number;
  steps: number;
  log?: (line: string) => void;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.onnx': 'application/octet-stream',
};

const PAGE = `<!doctype html><meta charset="utf-8"><title>bench</title>
<script type="importmap">{"imports":{"onnxruntime-web":"/ort/ort.min.mjs"}}</script>
<script type="module" src="/bench.js"></script>`;

function serve(packDir: string, bundleDir: string): Promise<Server> {
  const ortDir = resolve('node_modules/onnxruntime-web/dist');
  const roots: [string, string][] = [
    ['/ort/', ortDir],
    ['/pack/', packDir],
    ['/', bundleDir],
  ];
  const server = createServer((req, res) => {
    const headers = {
      'Cross-Origin-Opener-Policy': 'same-origin',
      'Cross-Origin-Embedder-Policy': 'require-corp',
      'Cross-Origin-Resource-Policy': 'same-origin',
      'Cache-Control': 'no-store',
    };
    const url = new URL(req.url ?? '/', 'http://x').pathname;
    if (url === '/' || url === '/index.html') {
      res.writeHead(200, { ...headers, 'Content-Type': 'text/html' });
      res.end(PAGE);
      return;
    }
    for (const [prefix, dir] of roots) {
      if (!url.startsWith(prefix)) continue;
      const file = normalize(join(dir, decodeURIComponent(url.slice(prefix.length))));
      if (!file.startsWith(dir) || !existsSync(file) || !statSync(file).isFile()) break;
      res.writeHead(200, { ...headers, 'Content-Type': TYPES[extname(file)] ?? 'application/octet-stream', 'Content-Length': statSync(file).size });
      createReadStream(file).pipe(res);
      return;
    }
    res.writeHead(404, headers);
    res.end('not found');
  });
  return new Promise((ok) => server.listen(0, '127.0.0.1', () => ok(server)));
}

export async function runInChromium(o: ChromiumRunOptions): Promise<BenchResult> {
  const bundleDir = process.env.BENCH_BROWSER_BUNDLE;
  if (!bundleDir) throw new Error('BENCH_BROWSER_BUNDLE is not set: run through `npm run bench:cpu`');
  const server = await serve(resolve(o.packDir), resolve(bundleDir));
  const port = (server.address() as AddressInfo).port;
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-quic'],
  });
  try {
    const page = await browser.newPage();
    page.on('console', (m) => {
      if ((m.type() === 'error' || m.type() === 'warning') && !m.text().includes('404')) o.log?.(`[page ${m.type()}] ${m.text()}`);
    });
    page.on('response', (r) => {
      if (r.status() >= 400 && !r.url().endsWith('/favicon.ico')) o.log?.(`[page] HTTP ${r.status()} ${r.url()}`);
    });
    await page.goto(`http://127.0.0.1:${port}/?threads=${o.threads}&steps=${o.steps}&pack=/pack/`);
    let printed = 0;
    for (;;) {
      const state = await page.evaluate(() => window.__bench);
      if (state) {
        for (; printed < state.log.length; printed++) o.log?.(state.log[printed]);
        if (state.done) {
          if (state.error) throw new Error(`bench page failed: ${state.error}`);
          return state.result!;
        }
      }
      await new Promise((r) => setTimeout(r, 500));
    }
  } finally {
    await browser.close();
    server.close();
  }
}
