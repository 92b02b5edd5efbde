import { describe, expect, it } from 'vitest';
import { chooseBackend, type Capabilities } from './capabilities';
import { assertDeviceFits, deviceFitProblem } from './device-fit';
import { DeviceLimitError } from './errors';
import type { PackManifest } from './pack';

const GB = 1e9;
const GiB = 1024 ** 3;
const caps: Capabilities = {
  webgpu: true,
  adapter: { vendor: 'x', architecture: 'y', isFallback: false },
  shaderF16: false,
  maxBufferSize: 2 * GiB,
  maxStorageBufferBindingSize: 2 * GiB,
  crossOriginIsolated: true,
  hardwareConcurrency: 4,
  isNode: false,
};

/** An SD-size pack: fp32 U-Net as 1.3 MB graph + 3.4 GB external data, optional fp16 variant. */
function pack(fp16 = true): PackManifest {
  const files = [
    { path: 'unet.onnx', bytes: 1_300_000 },
    { path: 'unet.onnx.data', bytes: 3.4 * GB },
    { path: 'text_encoder.onnx', bytes: 492e6 },
    { path: 'vae_encoder.onnx', bytes: 137e6 },
    { path: 'vae_decoder.onnx', bytes: 198e6 },
    { path: 'segmenter.onnx', bytes: 1e6 },
    ...(fp16 ? [{ path: 'unet.fp16.onnx', bytes: 1.7 * GB }] : []),
  ].map((f) => ({ ...f, sha256: '0'.repeat(64) }));
  const g = (p: string) => ({ fp32: p });
  return {
    graphs: {
      text_encoder: g('text_encoder.onnx'),
      vae_encoder: g('vae_encoder.onnx'),
      vae_decoder: g('vae_decoder.onnx'),
      segmenter: g('segmenter.onnx'),
      unet: { fp32: 'unet.onnx', fp32Data: 'unet.onnx.data', ...(fp16 ? { fp16: 'unet.fp16.onnx' } : {}) },
    },
    files,
  } as unknown as PackManifest;
}

describe('deviceFitProblem', () => {
  it('refuses a 3.4 GB buffer on a 2 GB GPU, suggesting the fp16 variant', () => {
    const m = pack(false);
    expect(deviceFitProblem(m, caps, chooseBackend(caps, m, 'auto'))).toBe(
      'This pack needs a GPU buffer of 3.4 GB (unet.onnx.data); this GPU allows 2.1 GB. Try the fp16 variant or another device.',
    );
  });
  it('names shader-f16 when only the fp16 variant would fit', () => {
    const m = pack(true);
    expect(deviceFitProblem(m, caps, chooseBackend(caps, m, 'auto'))).toMatch(
      /GPU buffer of 3\.4 GB .*Its fp16 variant \(unet\.fp16\.onnx, 1\.7 GB\) would fit, but this GPU lacks shader-f16/,
    );
  });
  it('accepts the fp16 variant on a GPU with shader-f16', () => {
    const f16 = { ...caps, shaderF16: true };
    const m = pack(true);
    const choice = chooseBackend(f16, m, 'auto');
    expect(choice.precision.unet).toBe('fp16');
    expect(deviceFitProblem(m, f16, choice)).toBeNull();
  });
  it("judges by the graph's largest weight when the manifest records it (one GPU buffer per weight)", () => {
    const m = pack(false);
    const unet = m.files.find((f) => f.path === 'unet.onnx')!;
    unet.largestTensorBytes = 26e6; // SD 1.5's largest fp32 weight is ~26 MB
    expect(deviceFitProblem(m, caps, chooseBackend(caps, m, 'auto'))).toBeNull();
    unet.largestTensorBytes = 2.5 * GB;
    expect(deviceFitProblem(m, caps, chooseBackend(caps, m, 'auto'))).toMatch(/GPU buffer of 2\.5 GB \(unet\.onnx\)/);
  });
  it('uses the smaller of maxBufferSize and maxStorageBufferBindingSize', () => {
    const small = { ...caps, shaderF16: true, maxStorageBufferBindingSize: 1 * GiB };
    const m = pack(true);
    expect(deviceFitProblem(m, small, chooseBackend(small, m, 'auto'))).toMatch(/GPU buffer of 1\.7 GB \(unet\.fp16\.onnx\); this GPU allows 1\.1 GB/);
  });
  it('wasm: refuses a graph past the 4 GB heap, accepts the rest', () => {
    const m = pack(false);
    (m.files.find((f) => f.path === 'unet.onnx.data') as { bytes: number }).bytes = 4.4 * GB;
    expect(() => assertDeviceFits(m, caps, chooseBackend(caps, m, 'wasm'))).toThrow(DeviceLimitError);
    expect(deviceFitProblem(m, caps, chooseBackend(caps, m, 'wasm'))).toMatch(/unet needs 4\.4 GB of memory; the wasm backend can hold at most 4\.3 GB/);
    expect(deviceFitProblem(pack(false), caps, chooseBackend(caps, pack(false), 'wasm'))).toBeNull();
  });
});
