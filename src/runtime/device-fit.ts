// Can this device hold a pack on the chosen backend? A pure check, worded for a person,
// run before a pack is stored or loaded so the refusal comes before gigabytes are copied.
import type { BackendChoice, Capabilities } from './capabilities';
import { DeviceLimitError } from './errors';
import { GRAPH_ROLES, type GraphRole, type PackManifest } from './pack';

/** wasm32 linear memory: every weight of a graph lives in it while ORT creates the session. */
export const WASM_MAX_BYTES = 4 * 1024 ** 3;

export function formatSize(bytes: number): string {
  if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(1)} GB`;
  if (bytes >= 1e6) return `${(bytes / 1e6).toFixed(0)} MB`;
  return `${Math.max(1, Math.round(bytes / 1e3))} KB`;
}

interface Need {
  role: GraphRole;
  path: string;
  bytes: number;
}

function sizeOf(manifest: PackManifest, path: string | undefined): number {
  return path ? (manifest.files.find((f) => f.path === path)?.bytes ?? 0) : 0;
}

/**
 * The largest GPU buffer a role needs at a precision: the graph's largest weight when the
 * manifest records it (onnxruntime makes one buffer per weight), otherwise, conservatively,
 * its largest file (graph or external data).
 */
function largestFile(manifest: PackManifest, role: GraphRole, precision: 'fp32' | 'fp16'): Need | null {
  const g = manifest.graphs[role];
  const graph = precision === 'fp16' ? g.fp16 : g.fp32;
  const tensor = manifest.files.find((f) => f.path === graph)?.largestTensorBytes;
  if (graph && typeof tensor === 'number') return { role, path: graph, bytes: tensor };
  const paths = precision === 'fp16' ? [g.fp16, g.fp16Data] : [g.fp32, g.fp32Data];
  let best: Need | null = null;
  for (const p of paths) {
    if (!p) continue;
    const bytes = sizeOf(manifest, p);
    if (!best || bytes > best.bytes) best = { role, path: p, bytes };
  }
  return best;
}

/** Model plus external data of a role at a precision: what the wasm heap must hold at once. */
function graphBytes(manifest: PackManifest, role: GraphRole, precision: 'fp32' | 'fp16'): number {
  const g = manifest.graphs[role];
  return precision === 'fp16' ? sizeOf(manifest, g.fp16) + sizeOf(manifest, g.fp16Data) : sizeOf(manifest, g.fp32) + sizeOf(manifest, g.fp32Data);
}

/**
 * Null when the pack fits, otherwise the reason. WebGPU: each graph or external-data file must
 * fit one GPU buffer (min of maxBufferSize and maxStorageBufferBindingSize); an fp16 variant
 * that would fit is named, with shader-f16 as the missing piece when the GPU lacks it.
 * wasm: each graph with its data must fit the 4 GB wasm heap.
 */
export function deviceFitProblem(manifest: PackManifest, caps: Capabilities, choice: BackendChoice): string | null {
  if (choice.info.kind === 'wasm') {
    for (const role of GRAPH_ROLES) {
      const bytes = graphBytes(manifest, role, 'fp32');
      if (bytes > WASM_MAX_BYTES) {
        return `This pack's ${role} needs ${formatSize(bytes)} of memory; the wasm backend can hold at most ${formatSize(WASM_MAX_BYTES)}. Try the WebGPU backend, a pack with float16 weights, or another device.`;
      }
    }
    return null;
  }
  const limit = Math.min(caps.maxBufferSize, caps.maxStorageBufferBindingSize);
  for (const role of GRAPH_ROLES) {
    const need = largestFile(manifest, role, choice.precision[role]);
    if (!need || need.bytes <= limit) continue;
    const base = `This pack needs a GPU buffer of ${formatSize(need.bytes)} (${need.path}); this GPU allows ${formatSize(limit)}.`;
    const half = choice.precision[role] === 'fp32' ? largestFile(manifest, role, 'fp16') : null;
    if (half && half.bytes <= limit && !caps.shaderF16) {
      return `${base} Its fp16 variant (${half.path}, ${formatSize(half.bytes)}) would fit, but this GPU lacks shader-f16. Try another device or the wasm backend.`;
    }
    return `${base} Try the fp16 variant or another device.`;
  }
  return null;
}

export function assertDeviceFits(manifest: PackManifest, caps: Capabilities, choice: BackendChoice): void {
  const problem = deviceFitProblem(manifest, caps, choice);
  if (problem) throw new DeviceLimitError(problem);
}
