// Inputs that stay on ORT's WebGPU device for a whole generation. The subject cache is the same
// for every U-Net call of an image; fed as CPU tensors ORT uploads it again at each call (at SD 1.5
// size 26 ms of a 216 ms call on an H200, docs/benchmarks.md "dreamcache_b3_k1_gpucache").
import * as ort from 'onnxruntime-web';

/** The part of a GPUDevice used here; the project compiles without the WebGPU type package. */
interface GpuDeviceLike {
  createBuffer(descriptor: { size: number; usage: number }): GpuBufferLike;
  queue: { writeBuffer(buffer: GpuBufferLike, offset: number, data: Float32Array): void };
}
interface GpuBufferLike {
  readonly size: number;
  readonly mapState: 'unmapped' | 'pending' | 'mapped';
  destroy(): void;
}

// GPUBufferUsage.STORAGE | COPY_SRC | COPY_DST: what ORT's WebGPU EP binds and may copy from.
const USAGE = 0x80 | 0x04 | 0x08;

export interface ResidentFeeds {
  readonly feeds: Record<string, ort.Tensor>;
  /** Frees the GPU buffers; call once no session run that reads them is pending. */
  release(): void;
}

export interface FloatInput {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * Uploads float32 inputs once and returns gpu-buffer tensors for them, or null when ORT has no
 * WebGPU device (a wasm session, or none created yet): the caller then feeds CPU tensors.
 */
export async function uploadFeeds(inputs: Record<string, FloatInput>): Promise<ResidentFeeds | null> {
  const device = (await Promise.resolve(ort.env.webgpu?.device).catch(() => undefined)) as GpuDeviceLike | undefined;
  if (!device || typeof device.createBuffer !== 'function') return null;
  const buffers: GpuBufferLike[] = [];
  const release = () => {
    for (const b of buffers.splice(0)) b.destroy();
  };
  try {
    const feeds: Record<string, ort.Tensor> = {};
    for (const [name, { data, dims }] of Object.entries(inputs)) {
      // ORT rounds its own buffers up to 16 bytes; a user buffer gets the same padding
      const buffer = device.createBuffer({ size: Math.max(16, Math.ceil(data.byteLength / 16) * 16), usage: USAGE });
      buffers.push(buffer);
      device.queue.writeBuffer(buffer, 0, data);
      feeds[name] = ort.Tensor.fromGpuBuffer(buffer, { dataType: 'float32', dims: [...dims] });
    }
    return { feeds, release };
  } catch (e) {
    release();
    throw e;
  }
}
