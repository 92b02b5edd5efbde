// Typed errors of the runtime. They cross the worker boundary as {name, message, reason?}
// and are rebuilt on the other side by `reviveError`, so `instanceof` works in the UI too.

// Names are spelled out: minifiers rename classes, and the name is what crosses the worker.
export class RuntimeError extends Error {
  override name = 'RuntimeError';
}

/** The pack breaks docs/model-pack.md, or one of its files is missing or corrupt. */
export class PackError extends RuntimeError {
  override name = 'PackError';
}

/** A subject cache made by another pack (fingerprint) or with layers this pack does not have. */
export class CacheMismatchError extends RuntimeError {
  override name = 'CacheMismatchError';
}

/** The running operation was stopped by `cancel()`. */
export class CancelledError extends RuntimeError {
  override name = 'CancelledError';
  constructor(message = 'Cancelled') {
    super(message);
  }
}

/** Bad arguments from the caller: empty images, no subject in a mask, steps out of range … */
export class InputError extends RuntimeError {
  override name = 'InputError';
}

/** An operation needs `load()` first, or the engine was disposed. */
export class NotLoadedError extends RuntimeError {
  override name = 'NotLoadedError';
}

/** No usable backend, or ONNX Runtime failed while creating a session or running a graph. */
export class BackendError extends RuntimeError {
  override name = 'BackendError';
}

/** The device cannot hold the pack on the chosen backend (GPU buffer limits, shader-f16, wasm heap). */
export class DeviceLimitError extends RuntimeError {
  override name = 'DeviceLimitError';
}

export type CacheFileErrorReason =
  | 'oversized'
  | 'truncated'
  | 'bad_magic'
  | 'unsupported_version'
  | 'malformed_header'
  | 'size_mismatch'
  | 'checksum'
  | 'other_pack'
  | 'layer_mismatch'
  | 'bad_values';

/** A `.dreamcache` file that failed validation; `reason` says which check refused it. */
export class CacheFileError extends RuntimeError {
  override name = 'CacheFileError';
  readonly reason: CacheFileErrorReason;
  constructor(reason: CacheFileErrorReason, message: string) {
    super(`${message} (${reason})`);
    this.reason = reason;
  }
}

export interface SerializedError {
  name: string;
  message: string;
  reason?: string;
}

export function serializeError(error: unknown): SerializedError {
  if (error instanceof CacheFileError) {
    return { name: error.name, message: error.message, reason: error.reason };
  }
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

const byName: Record<string, new (message: string) => RuntimeError> = {
  PackError,
  CacheMismatchError,
  CancelledError,
  InputError,
  NotLoadedError,
  BackendError,
  DeviceLimitError,
};

export function reviveError(e: SerializedError): Error {
  if (e.name === 'CacheFileError') {
    const err = new CacheFileError((e.reason ?? 'malformed_header') as CacheFileErrorReason, '');
    err.message = e.message;
    return err;
  }
  const Ctor = byName[e.name];
  if (Ctor) {
    const err = new Ctor(e.message);
    err.message = e.message;
    return err;
  }
  const err = new Error(e.message);
  err.name = e.name;
  return err;
}
