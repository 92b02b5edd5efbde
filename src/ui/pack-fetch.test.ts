// fetchPack against a real HTTP server holding the dev pack (and a broken copy of it).
import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Capabilities } from '../runtime/capabilities';
import { DeviceLimitError, PackError } from '../runtime/errors';
import { packFingerprint, validateManifest } from '../runtime/pack';
import { fetchPack, type PackProgress } from './pack-import';

const DEV = join(__dirname, '../../public/models/dev-tiny');
const files = new Map(readdirSync(DEV).map((f) => [f, readFileSync(join(DEV, f))]));
const noGpu: Capabilities = {
  webgpu: false,
  adapter: null,
  shaderF16: false,
  maxBufferSize: 0,
  maxStorageBufferBindingSize: 0,
  crossOriginIsolated: false,
  hardwareConcurrency: 2,
  isNode: true,
};
let server: Server;
let base = '';

beforeAll(async () => {
  server = createServer((req, res) => {
    const [, folder, name] = (req.url ?? '').split('/');
    let body = files.get(name);
    if (folder === 'no-vae' && name === 'vae_decoder.onnx') body = undefined;
    if (folder === 'tiny-gpu' && name === 'manifest.json') body = files.get(name);
    if (!body) {
      res.writeHead(404);
      res.end();
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length });
    res.end(body);
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

describe('fetchPack', () => {
  it('downloads and checks every listed file, with progress', async () => {
    const seen: PackProgress[] = [];
    const record = await fetchPack(`${base}/good`, { caps: noGpu, backend: 'wasm', onProgress: (p) => seen.push(p) });
    const manifest = validateManifest(JSON.parse(files.get('manifest.json')!.toString()));
    expect(record.id).toBe(await packFingerprint(manifest));
    expect(record.origin).toBe(`${base}/good/`);
    expect(Object.keys(record.files).sort()).toEqual([...files.keys()].sort());
    // byte-identical (Buffer.equals: a deep toEqual over 5 MB takes a minute)
    expect(Buffer.from(await record.files['unet.onnx'].arrayBuffer()).equals(files.get('unet.onnx')!)).toBe(true);
    expect(seen.some((p) => p.message === 'Downloading unet.onnx')).toBe(true);
    expect(seen.some((p) => p.message === 'Checking unet.onnx')).toBe(true);
  });
  it('names a file the server does not have', async () => {
    await expect(fetchPack(`${base}/no-vae/`, { caps: noGpu, backend: 'wasm' })).rejects.toThrow(PackError);
    await expect(fetchPack(`${base}/no-vae/`, { caps: noGpu, backend: 'wasm' })).rejects.toThrow(/^missing file vae_decoder\.onnx/);
  });
  it('refuses before downloading when the GPU is too small', async () => {
    const tiny: Capabilities = { ...noGpu, webgpu: true, maxBufferSize: 256 << 20, maxStorageBufferBindingSize: 256 << 20 };
    // 256 MiB passes chooseBackend's floor; the dev pack's 5 MB U-Net fits it
    expect((await fetchPack(`${base}/good/`, { caps: tiny, backend: 'webgpu' })).name).toBe('dev-tiny');
    const manifest = JSON.parse(files.get('manifest.json')!.toString());
    // A U-Net whose largest weight (one GPU buffer) is 300 MiB.
    const unet = manifest.files.find((f: { path: string }) => f.path === 'unet.onnx');
    unet.bytes = 300 << 20;
    unet.largestTensorBytes = 300 << 20;
    files.set('manifest.json', Buffer.from(JSON.stringify(manifest)));
    try {
      await expect(fetchPack(`${base}/good/`, { caps: tiny, backend: 'webgpu' })).rejects.toThrow(DeviceLimitError);
      await expect(fetchPack(`${base}/good/`, { caps: tiny, backend: 'webgpu' })).rejects.toThrow(
        'This pack needs a GPU buffer of 315 MB (unet.onnx); this GPU allows 268 MB. Try the fp16 variant or another device.',
      );
    } finally {
      files.set('manifest.json', readFileSync(join(DEV, 'manifest.json')));
    }
  });
});
