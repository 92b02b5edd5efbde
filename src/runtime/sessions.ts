// ONNX Runtime sessions of one loaded pack, created on first use from verified bytes.
import * as ort from 'onnxruntime-web';
import type { BackendChoice } from './capabilities';
import { BackendError, PackError } from './errors';
import { readVerifiedFile, type GraphRole, type PackManifest } from './pack';
import type { PackSource } from './pack-source';

export type OrtSession = ort.InferenceSession;
export type OnSessionLoad = (role: GraphRole, loadedBytes: number, totalBytes: number) => void;

let configuredThreads: number | null = null;

/**
 * ORT's wasm settings are per realm and fixed by the first session: set them once and return
 * the thread count really in use (a later load asking for another count keeps the first).
 */
export function configureOrt(threads: number): number {
  if (configuredThreads !== null) return configuredThreads;
  configuredThreads = threads;
  ort.env.wasm.numThreads = threads;
  ort.env.logLevel = 'error';
  return threads;
}

export class SessionPool {
  private readonly sessions = new Map<GraphRole, Promise<OrtSession>>();
  private disposed = false;

  constructor(
    private readonly source: PackSource,
    private readonly manifest: PackManifest,
    private readonly backend: BackendChoice,
  ) {}

  /** The session for a role, creating it (download, verify, compile) the first time. */
  get(role: GraphRole, onLoad?: OnSessionLoad): Promise<OrtSession> {
    if (this.disposed) throw new BackendError('The engine was disposed');
    let s = this.sessions.get(role);
    if (!s) {
      s = this.create(role, onLoad);
      this.sessions.set(role, s);
      // a failed creation must not stick: the next call retries
      s.catch(() => this.sessions.delete(role));
    }
    return s;
  }

  private async create(role: GraphRole, onLoad?: OnSessionLoad): Promise<OrtSession> {
    const precision = this.backend.precision[role];
    const files = this.manifest.graphs[role];
    const path = precision === 'fp16' ? files.fp16! : files.fp32;
    const dataPath = precision === 'fp16' ? files.fp16Data : files.fp32Data;
    const sizeOf = (p: string) => this.manifest.files.find((f) => f.path === p)?.bytes ?? 0;
    const total = sizeOf(path) + (dataPath ? sizeOf(dataPath) : 0);
    const model = await readVerifiedFile(this.source, this.manifest, path, (loaded) => onLoad?.(role, loaded, total));
    const options: ort.InferenceSession.SessionOptions = {
      executionProviders: this.backend.executionProviders,
      graphOptimizationLevel: 'all',
      // "some nodes were not assigned to the preferred EP" is expected on WebGPU; keep errors only
      logSeverityLevel: 3,
    };
    if (dataPath) {
      const data = await readVerifiedFile(this.source, this.manifest, dataPath, (loaded) => onLoad?.(role, sizeOf(path) + loaded, total));
      options.externalData = [{ path: dataPath, data }];
    }
    try {
      const session = await ort.InferenceSession.create(model, options);
      onLoad?.(role, total, total);
      return session;
    } catch (e) {
      throw new BackendError(`Cannot create the ${role} session (${path}) on ${this.backend.info.label}: ${(e as Error).message}`);
    }
  }

  async dispose(): Promise<void> {
    this.disposed = true;
    const all = [...this.sessions.values()];
    this.sessions.clear();
    for (const s of all) {
      try {
        await (await s).release();
      } catch {
        // a session that failed to create has nothing to release
      }
    }
  }
}

export function tensor(data: Float32Array | BigInt64Array, dims: number[]): ort.Tensor {
  return data instanceof BigInt64Array ? new ort.Tensor('int64', data, dims) : new ort.Tensor('float32', data, dims);
}

/** Whether a unet graph has the optional `encoder_row` input (docs/model-pack.md). */
export function takesEncoderRow(unet: OrtSession): boolean {
  return unet.inputNames.includes('encoder_row');
}

/** The `encoder_row` feed for graphs that take it, nothing for those that do not. */
export function encoderRowFeed(unet: OrtSession, encoderRow: readonly number[]): Record<string, ort.Tensor> {
  return takesEncoderRow(unet) ? { encoder_row: tensor(BigInt64Array.from(encoderRow, (r) => BigInt(r)), [encoderRow.length]) } : {};
}

/** Runs a session and returns the requested outputs as Float32Array, checking they exist. */
export async function runFloat(
  session: OrtSession,
  role: GraphRole,
  feeds: Record<string, ort.Tensor>,
  outputs: string[],
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  for (const name of outputs) {
    if (!session.outputNames.includes(name)) throw new PackError(`${role} graph has no output "${name}" (has ${session.outputNames.join(', ')})`);
  }
  for (const name of session.inputNames) {
    if (!(name in feeds)) throw new PackError(`${role} graph needs input "${name}", which the contract does not define`);
  }
  let result: ort.InferenceSession.ReturnType;
  try {
    result = await session.run(feeds, outputs);
  } catch (e) {
    throw new BackendError(`${role} failed: ${(e as Error).message}`);
  }
  const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
  for (const name of outputs) {
    const t = result[name];
    const data = (t.location === 'cpu' || t.location === undefined ? t.data : await t.getData()) as Float32Array;
    out[name] = { data, dims: t.dims };
  }
  return out;
}
