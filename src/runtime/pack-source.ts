// Where pack files come from: fetch for URLs (browser, worker, or Node with http(s)), the
// file system for folder paths in Node. Everything above this file is storage-agnostic.
import { PackError } from './errors';

export interface PackSource {
  /** Human description for messages: the URL or the folder. */
  readonly location: string;
  read(path: string, onLoaded?: (loadedBytes: number) => void): Promise<Uint8Array>;
}

function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string' && typeof (globalThis as { window?: unknown }).window === 'undefined';
}

function isUrl(base: string): boolean {
  return /^(https?:|blob:|data:)/i.test(base);
}

function joinUrl(base: string, path: string): string {
  return base.endsWith('/') ? base + path : `${base}/${path}`;
}

export function createFetchSource(baseUrl: string): PackSource {
  return {
    location: baseUrl,
    async read(path, onLoaded) {
      const url = joinUrl(baseUrl, path);
      let response: Response;
      try {
        response = await fetch(url);
      } catch (e) {
        throw new PackError(`Cannot fetch ${url}: ${(e as Error).message}`);
      }
      if (!response.ok) throw new PackError(`Cannot fetch ${url}: HTTP ${response.status}`);
      if (!response.body || !onLoaded) return new Uint8Array(await response.arrayBuffer());
      const total = Number(response.headers.get('content-length') ?? 0);
      const reader = response.body.getReader();
      const chunks: Uint8Array[] = [];
      let loaded = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        chunks.push(value);
        loaded += value.byteLength;
        onLoaded(loaded);
      }
      const out = new Uint8Array(total === loaded ? total : loaded);
      let offset = 0;
      for (const c of chunks) {
        out.set(c, offset);
        offset += c.byteLength;
      }
      return out;
    },
  };
}

export function createFolderSource(folder: string): PackSource {
  return {
    location: folder,
    async read(path, onLoaded) {
      // A variable specifier keeps bundlers from pulling node:fs into the browser build.
      const fsName = 'node:fs/promises';
      const pathName = 'node:path';
      const fs = (await import(/* @vite-ignore */ fsName)) as typeof import('node:fs/promises');
      const nodePath = (await import(/* @vite-ignore */ pathName)) as typeof import('node:path');
      const full = nodePath.join(folder, path);
      let handle: import('node:fs/promises').FileHandle;
      try {
        handle = await fs.open(full, 'r');
      } catch (e) {
        throw new PackError(`Cannot read ${full}: ${(e as Error).message}`);
      }
      try {
        // Chunked reads: readFile refuses files over 2 GiB (SD-size fp32 graphs).
        const { size } = await handle.stat();
        const out = new Uint8Array(size);
        const chunk = 64 << 20;
        let offset = 0;
        while (offset < size) {
          const { bytesRead } = await handle.read(out, offset, Math.min(chunk, size - offset), offset);
          if (bytesRead === 0) break;
          offset += bytesRead;
          onLoaded?.(offset);
        }
        return offset === size ? out : out.subarray(0, offset);
      } finally {
        await handle.close();
      }
    },
  };
}

/** A URL (or any base in a browser) → fetch; a folder path in Node → file system. */
export function createPackSource(base: string): PackSource {
  if (isUrl(base) || !isNode()) return createFetchSource(base);
  return createFolderSource(base);
}
