import { describe, expect, it } from 'vitest';
import { chooseBackend, detectCapabilities, type Capabilities } from './capabilities';

const base: Capabilities = {
  webgpu: true,
  adapter: { vendor: 'nvidia', architecture: 'x', isFallback: false },
  shaderF16: true,
  maxBufferSize: 2 ** 31,
  maxStorageBufferBindingSize: 2 ** 30,
  crossOriginIsolated: true,
  hardwareConcurrency: 8,
  isNode: false,
};
const fp32 = { fp32: 'a.onnx' };
const withF16 = { graphs: { text_encoder: fp32, vae_encoder: fp32, vae_decoder: fp32, unet: { fp32: 'u.onnx', fp16: 'u16.onnx' }, segmenter: fp32 } };
const only32 = { graphs: { text_encoder: fp32, vae_encoder: fp32, vae_decoder: fp32, unet: fp32, segmenter: fp32 } };

describe('chooseBackend', () => {
  it('WebGPU fp16 with shader-f16 and an fp16 graph', () => {
    const c = chooseBackend(base, withF16);
    expect(c.info).toEqual({ kind: 'webgpu-fp16', threads: 4, label: 'WebGPU fp16' });
    expect(c.precision.unet).toBe('fp16');
    expect(c.precision.vae_decoder).toBe('fp32');
    expect(c.executionProviders).toEqual(['webgpu']);
  });
  it('WebGPU fp32 without shader-f16 or without fp16 graphs', () => {
    expect(chooseBackend({ ...base, shaderF16: false }, withF16).info.label).toBe('WebGPU fp32');
    expect(chooseBackend({ ...base, shaderF16: false }, withF16).precision.unet).toBe('fp32');
    expect(chooseBackend(base, only32).info.kind).toBe('webgpu-fp32');
  });
  it('wasm without an adapter, with a tiny device, or on request; threads need isolation', () => {
    expect(chooseBackend({ ...base, webgpu: false }, withF16).info).toEqual({ kind: 'wasm', threads: 4, label: 'wasm ×4 threads' });
    expect(chooseBackend({ ...base, maxStorageBufferBindingSize: 1 << 20 }, withF16).info.kind).toBe('wasm');
    expect(chooseBackend(base, withF16, 'wasm', 2).info).toEqual({ kind: 'wasm', threads: 2, label: 'wasm ×2 threads' });
    expect(chooseBackend({ ...base, webgpu: false, crossOriginIsolated: false }, withF16, 'auto', 4).info.label).toBe('wasm ×1 thread');
    expect(chooseBackend({ ...base, webgpu: false, hardwareConcurrency: 2 }, withF16).info.threads).toBe(2);
    expect(chooseBackend({ ...base, webgpu: false, isNode: true }, withF16, 'auto', 4).info.threads).toBe(1);
  });
});

describe('detectCapabilities', () => {
  it('runs once and is frozen (Node: no WebGPU)', async () => {
    const a = await detectCapabilities();
    expect(await detectCapabilities()).toBe(a);
    expect(Object.isFrozen(a)).toBe(true);
    expect(a.webgpu).toBe(false);
    expect(a.isNode).toBe(true);
  });
});
