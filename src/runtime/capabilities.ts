// What this browser (or Node) can run, detected once and frozen, and the pure rule that turns
// it into a backend choice for a pack.
import type { BackendInfo, BackendKind, BackendPreference } from './engine-types';
import type { GraphRole, PackManifest } from './pack';
import { GRAPH_ROLES } from './pack';

export interface Capabilities {
  readonly webgpu: boolean;
  readonly adapter: { readonly vendor: string; readonly architecture: string; readonly isFallback: boolean } | null;
  readonly shaderF16: boolean;
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly crossOriginIsolated: boolean;
  readonly hardwareConcurrency: number;
  readonly isNode: boolean;
}

interface GpuAdapterLike {
  features: { has(name: string): boolean };
  limits: { maxBufferSize: number; maxStorageBufferBindingSize: number };
  info?: { vendor?: string; architecture?: string; isFallbackAdapter?: boolean };
  isFallbackAdapter?: boolean;
}

let detected: Promise<Capabilities> | null = null;

/** Probes once per JS realm (page or worker); later calls return the same frozen object. */
export function detectCapabilities(): Promise<Capabilities> {
  detected ??= probe();
  return detected;
}

async function probe(): Promise<Capabilities> {
  const g = globalThis as {
    navigator?: { gpu?: { requestAdapter(o?: object): Promise<GpuAdapterLike | null> }; hardwareConcurrency?: number };
    crossOriginIsolated?: boolean;
    process?: { versions?: { node?: string } };
    window?: unknown;
  };
  const isNode = typeof g.process?.versions?.node === 'string' && g.window === undefined && !g.navigator?.gpu;
  let adapter: GpuAdapterLike | null = null;
  try {
    adapter = (await g.navigator?.gpu?.requestAdapter({ powerPreference: 'high-performance' })) ?? null;
  } catch {
    adapter = null;
  }
  const caps: Capabilities = {
    webgpu: adapter !== null,
    adapter: adapter
      ? Object.freeze({
          vendor: adapter.info?.vendor ?? '',
          architecture: adapter.info?.architecture ?? '',
          isFallback: Boolean(adapter.info?.isFallbackAdapter ?? adapter.isFallbackAdapter),
        })
      : null,
    shaderF16: adapter?.features.has('shader-f16') ?? false,
    maxBufferSize: adapter?.limits.maxBufferSize ?? 0,
    maxStorageBufferBindingSize: adapter?.limits.maxStorageBufferBindingSize ?? 0,
    crossOriginIsolated: g.crossOriginIsolated === true,
    hardwareConcurrency: g.navigator?.hardwareConcurrency ?? 1,
    isNode,
  };
  return Object.freeze(caps);
}

export interface BackendChoice {
  info: BackendInfo;
  executionProviders: string[];
  /** Which file of each graph to load. */
  precision: Record<GraphRole, 'fp32' | 'fp16'>;
}

/** The same choice with the wasm thread count actually configured. */
export function withThreads(choice: BackendChoice, threads: number): BackendChoice {
  if (choice.info.threads === threads) return choice;
  const label = choice.info.kind === 'wasm' ? `wasm ×${threads} thread${threads === 1 ? '' : 's'}` : choice.info.label;
  return { ...choice, info: { ...choice.info, threads, label } };
}

/** Below this a WebGPU device cannot hold the weight tensors of a useful pack. */
const MIN_STORAGE_BINDING = 128 * 1024 * 1024;

/**
 * WebGPU fp16 when shader-f16 exists and the pack ships an fp16 graph, WebGPU fp32 otherwise,
 * wasm when there is no usable adapter (or on request), threaded only under cross-origin isolation.
 */
export function chooseBackend(
  caps: Capabilities,
  manifest: Pick<PackManifest, 'graphs'>,
  preference: BackendPreference = 'auto',
  numThreads?: number,
): BackendChoice {
  const threadsAllowed = caps.crossOriginIsolated && !caps.isNode;
  const threads = threadsAllowed ? Math.max(1, Math.floor(numThreads ?? Math.min(4, caps.hardwareConcurrency))) : 1;
  const gpuUsable = caps.webgpu && caps.maxStorageBufferBindingSize >= MIN_STORAGE_BINDING;
  const useGpu = preference !== 'wasm' && gpuUsable;
  const hasFp16 = GRAPH_ROLES.some((r) => manifest.graphs[r].fp16 !== undefined);
  let kind: BackendKind = 'wasm';
  if (useGpu) kind = caps.shaderF16 && hasFp16 ? 'webgpu-fp16' : 'webgpu-fp32';
  const precision = Object.fromEntries(
    GRAPH_ROLES.map((r) => [r, kind === 'webgpu-fp16' && manifest.graphs[r].fp16 ? 'fp16' : 'fp32']),
  ) as Record<GraphRole, 'fp32' | 'fp16'>;
  const label = kind === 'webgpu-fp16' ? 'WebGPU fp16' : kind === 'webgpu-fp32' ? 'WebGPU fp32' : `wasm ×${threads} thread${threads === 1 ? '' : 's'}`;
  return {
    info: { kind, threads, label },
    executionProviders: kind === 'wasm' ? ['wasm'] : ['webgpu'],
    precision,
  };
}
