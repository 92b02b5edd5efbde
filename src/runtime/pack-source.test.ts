import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PackError } from './errors';
import { createFetchSource, createFolderSource, createPackSource } from './pack-source';

const payload = new Uint8Array(300_000).map((_, i) => (i * 7) & 255);
let server: Server;
let base = '';
const dir = mkdtempSync(join(tmpdir(), 'pack-src-'));
writeFileSync(join(dir, 'blob.bin'), payload);

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url === '/pack/blob.bin') {
      res.writeHead(200, { 'Content-Length': payload.length });
      res.end(Buffer.from(payload));
    } else {
      res.writeHead(404);
      res.end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/pack/`;
});
afterAll(() => server.close());

describe('pack sources', () => {
  it('fetch: reads bytes with progress, and names a missing file', async () => {
    const seen: number[] = [];
    const bytes = await createFetchSource(base).read('blob.bin', (n) => seen.push(n));
    expect(bytes).toEqual(payload);
    expect(seen.at(-1)).toBe(payload.length);
    await expect(createFetchSource(base).read('nope.bin')).rejects.toThrow(PackError);
    await expect(createFetchSource(base).read('nope.bin')).rejects.toThrow(/HTTP 404/);
  });
  it('folder: reads bytes with progress, and names a missing file', async () => {
    const seen: number[] = [];
    expect(await createFolderSource(dir).read('blob.bin', (n) => seen.push(n))).toEqual(payload);
    expect(seen.at(-1)).toBe(payload.length);
    await expect(createFolderSource(dir).read('nope.bin')).rejects.toThrow(PackError);
  });
  it('picks fetch for URLs and the file system for folders in Node', async () => {
    expect(await createPackSource(base).read('blob.bin')).toEqual(payload);
    expect(await createPackSource(dir).read('blob.bin')).toEqual(payload);
  });
});
