// The one interface shared by the in-thread engine (Node, tests, benchmarks) and the worker
// proxy the UI uses. Everything crossing it is structured-clonable.
import type { PackManifest } from './pack';

export type BackendKind = 'webgpu-fp16' | 'webgpu-fp32' | 'wasm';

export interface BackendInfo {
  kind: BackendKind;
  /** wasm threads actually in use (1 when not cross-origin isolated). */
  threads: number;
  /** Human label for the badge: "WebGPU fp16", "WebGPU fp32", "wasm ×2 threads". */
  label: string;
}

export type BackendPreference = 'auto' | 'webgpu' | 'wasm';

export interface LoadOptions {
  /**
   * Base URL (browser) or folder path (Node) of a pack; manifest.json lives there. With
   * `files`, only a label for messages (e.g. "stored:dev-tiny").
   */
  packUrl: string;
  /** The pack's files by plain name (manifest.json included), e.g. stored Blobs: read instead of packUrl. */
  files?: Readonly<Record<string, Blob>>;
  backend?: BackendPreference;
  /** wasm threads; defaults to min(4, hardwareConcurrency) when cross-origin isolated. */
  numThreads?: number;
  /**
   * Run the rows of a step that differ only in adapter_gate through the U-Net's encoder once,
   * when the pack's unet graph takes `encoder_row` (default true; same images, ~10 % less work
   * per DreamCache step). false: every row through the whole U-Net (benchmarks, equivalence tests).
   */
  shareEncoder?: boolean;
}

export interface LoadedInfo {
  manifest: PackManifest;
  fingerprint: string;
  backend: BackendInfo;
}

/** Straight (non-premultiplied) RGBA, row-major, 8 bits per channel. */
export interface RgbaImage {
  width: number;
  height: number;
  data: Uint8ClampedArray;
}

/** Foreground probability per pixel of the photo it was computed for, row-major. */
export interface MaskImage {
  width: number;
  height: number;
  data: Float32Array;
  /** 'alpha' when the photo's own alpha channel was used, 'segmenter' otherwise. */
  source: 'alpha' | 'segmenter';
}

export interface CacheLayer {
  name: string;
  /** [1, N, C]; N = K·height·width for K reference images. */
  shape: [number, number, number];
  data: Float32Array;
}

export interface SubjectCache {
  packName: string;
  fingerprint: string;
  /** Number of reference images concatenated in it. */
  references: number;
  layers: CacheLayer[];
}

export type SchedulerName = 'ddim' | 'dpmpp2m';
/** combined: 3 branches (e_u, e_i, e_c); joint: 2 branches (e_u, e_c). Ignored with no cache. */
export type GuidanceMode = 'combined' | 'joint';

export interface GenerateRequest {
  prompt: string;
  steps: number;
  seed: number;
  textScale: number;
  /** sI (at the first step when imageScaleEnd is given). */
  imageScale: number;
  /** sI at the last step: a linear ramp from imageScale; absent → imageScale throughout. */
  imageScaleEnd?: number;
  scheduler: SchedulerName;
  guidance: GuidanceMode;
  /** null → plain text-to-image with classifier-free guidance. */
  cache: SubjectCache | null;
  /** Decode a preview every this many steps (0 = never). */
  previewEvery: number;
}

export interface ProgressEvent {
  stage: 'load' | 'segment' | 'cache' | 'generate';
  step: number;
  total: number;
  message?: string;
  preview?: RgbaImage;
}

export type ProgressCallback = (event: ProgressEvent) => void;

export interface Engine {
  load(options: LoadOptions, onProgress?: ProgressCallback): Promise<LoadedInfo>;
  /** Mask for a photo: its alpha channel when meaningful, otherwise the pack's segmenter. */
  segment(photo: RgbaImage): Promise<MaskImage>;
  /** One U-Net pass per reference (subject on white, any size; resized to the pack size). */
  buildCache(referencesOnWhite: RgbaImage[], seed: number, onProgress?: ProgressCallback): Promise<SubjectCache>;
  generate(request: GenerateRequest, onProgress?: ProgressCallback): Promise<RgbaImage>;
  /** Stops the running generate() within one denoising step; it rejects with CancelledError. */
  cancel(): void;
  dispose(): Promise<void>;
}
