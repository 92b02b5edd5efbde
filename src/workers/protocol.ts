// Messages between the UI thread (worker-engine.ts) and the engine worker (engine.worker.ts).
import type { ProgressEvent } from '../runtime/engine-types';
import type { SerializedError } from '../runtime/errors';

export type EngineMethod = 'load' | 'segment' | 'buildCache' | 'generate' | 'dispose';

export type ToWorker =
  | { kind: 'request'; id: number; payload: { method: EngineMethod; args: unknown[] } }
  | { kind: 'cancel'; id: number; payload: null };

export type FromWorker =
  | { kind: 'progress'; id: number; payload: ProgressEvent }
  | { kind: 'result'; id: number; payload: unknown }
  | { kind: 'error'; id: number; payload: SerializedError };

/** Worker name; ORT names its own pthread workers "em-pthread…", which must not get our handler. */
export const ENGINE_WORKER_NAME = 'dreamcache-engine';
