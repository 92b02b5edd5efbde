// The Engine the UI uses: the same interface as the in-thread engine, proxied to a worker so
// inference never blocks the page.
import type { Engine, GenerateRequest, LoadedInfo, LoadOptions, MaskImage, ProgressCallback, RgbaImage, SubjectCache } from '../runtime/engine-types';
import { reviveError } from '../runtime/errors';
import { ENGINE_WORKER_NAME, type EngineMethod, type FromWorker, type ToWorker } from './protocol';

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  onProgress?: ProgressCallback;
}

export interface WorkerEngineOptions {
  /** Injected for tests; defaults to the bundled engine worker. */
  worker?: Worker;
}

export function createWorkerEngine(options: WorkerEngineOptions = {}): Engine {
  const worker =
    options.worker ?? new Worker(new URL('./engine.worker.ts', import.meta.url), { type: 'module', name: ENGINE_WORKER_NAME });
  const pending = new Map<number, Pending>();
  let nextId = 1;
  let terminated = false;

  worker.onmessage = (event: MessageEvent<FromWorker>) => {
    const msg = event.data;
    const p = pending.get(msg.id);
    if (!p) return;
    if (msg.kind === 'progress') {
      p.onProgress?.(msg.payload);
    } else if (msg.kind === 'result') {
      pending.delete(msg.id);
      p.resolve(msg.payload);
    } else {
      pending.delete(msg.id);
      p.reject(reviveError(msg.payload));
    }
  };
  worker.onerror = (event) => {
    const error = new Error(`Engine worker crashed: ${event.message || 'unknown error'}`);
    for (const p of pending.values()) p.reject(error);
    pending.clear();
  };

  function request<T>(method: EngineMethod, args: unknown[], onProgress?: ProgressCallback): Promise<T> {
    if (terminated) return Promise.reject(new Error('The engine was disposed'));
    const id = nextId++;
    return new Promise<T>((resolve, reject) => {
      pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      const msg: ToWorker = { kind: 'request', id, payload: { method, args } };
      worker.postMessage(msg);
    });
  }

  return {
    load(o: LoadOptions, onProgress?: ProgressCallback) {
      // a relative pack URL must resolve against the page, not the worker script
      const base = typeof location !== 'undefined' ? location.href : undefined;
      const packUrl = base && !/^[a-z]+:/i.test(o.packUrl) ? new URL(o.packUrl, base).toString() : o.packUrl;
      return request<LoadedInfo>('load', [{ ...o, packUrl }], onProgress);
    },
    segment: (photo: RgbaImage) => request<MaskImage>('segment', [photo]),
    buildCache: (refs: RgbaImage[], seed: number, onProgress?: ProgressCallback) => request<SubjectCache>('buildCache', [refs, seed], onProgress),
    generate: (r: GenerateRequest, onProgress?: ProgressCallback) => request<RgbaImage>('generate', [r], onProgress),
    cancel() {
      if (terminated) return;
      const msg: ToWorker = { kind: 'cancel', id: nextId++, payload: null };
      worker.postMessage(msg);
    },
    async dispose() {
      if (terminated) return;
      try {
        await request<void>('dispose', []);
      } finally {
        terminated = true;
        worker.terminate();
        for (const p of pending.values()) p.reject(new Error('The engine was disposed'));
        pending.clear();
      }
    },
  };
}
