/// <reference lib="webworker" />
// The engine in a dedicated worker: runs the in-thread engine and speaks protocol.ts.
import { createEngine } from '../runtime/engine';
import type { Engine, ProgressEvent, RgbaImage } from '../runtime/engine-types';
import { serializeError } from '../runtime/errors';
import type { FromWorker, ToWorker } from './protocol';

const scope = self as unknown as DedicatedWorkerGlobalScope;

function post(message: FromWorker, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function isImage(v: unknown): v is RgbaImage {
  return typeof v === 'object' && v !== null && (v as RgbaImage).data instanceof Uint8ClampedArray && typeof (v as RgbaImage).width === 'number';
}

function transferablesOf(v: unknown): Transferable[] {
  if (isImage(v)) return [v.data.buffer as ArrayBuffer];
  return [];
}

async function call(engine: Engine, method: string, args: unknown[], onProgress: (e: ProgressEvent) => void): Promise<unknown> {
  switch (method) {
    case 'load':
      return engine.load(args[0] as Parameters<Engine['load']>[0], onProgress);
    case 'segment':
      return engine.segment(args[0] as RgbaImage);
    case 'buildCache':
      return engine.buildCache(args[0] as RgbaImage[], args[1] as number, onProgress);
    case 'generate':
      return engine.generate(args[0] as Parameters<Engine['generate']>[0], onProgress);
    case 'dispose':
      return engine.dispose();
    default:
      throw new Error(`Unknown engine method "${method}"`);
  }
}

function start(): void {
  const engine = createEngine();
  scope.onmessage = (event: MessageEvent<ToWorker>) => {
    const msg = event.data;
    if (msg.kind === 'cancel') {
      engine.cancel();
      return;
    }
    if (msg.kind !== 'request') return;
    const { id } = msg;
    const onProgress = (p: ProgressEvent) => post({ kind: 'progress', id, payload: p }, p.preview ? [p.preview.data.buffer as ArrayBuffer] : []);
    call(engine, msg.payload.method, msg.payload.args, onProgress).then(
      (value) => post({ kind: 'result', id, payload: value }, transferablesOf(value)),
      (error) => post({ kind: 'error', id, payload: serializeError(error) }),
    );
  };
}

// ORT starts its wasm pthreads from this same bundled file; they must keep their own handler.
if (!scope.name?.startsWith('em-pthread')) start();
