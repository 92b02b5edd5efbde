// Which ONNX Runtime backend to ask for: `?backend=wasm|webgpu|auto` in the URL wins (tests
// use it), then the choice saved in localStorage, then 'auto'.
import type { BackendPreference } from '../runtime/engine-types';

export const BACKEND_STORAGE_KEY = 'dreamcache.backend';
const CHOICES: readonly BackendPreference[] = ['auto', 'webgpu', 'wasm'];

function parse(value: string | null | undefined): BackendPreference | null {
  return CHOICES.includes(value as BackendPreference) ? (value as BackendPreference) : null;
}

export function readBackendPreference(search: string, saved: string | null): BackendPreference {
  return parse(new URLSearchParams(search).get('backend')) ?? parse(saved) ?? 'auto';
}

/** `?threads=N` for experiments; undefined lets the engine choose. */
export function readThreadCount(search: string): number | undefined {
  const n = Number(new URLSearchParams(search).get('threads'));
  return Number.isInteger(n) && n >= 1 && n <= 64 ? n : undefined;
}
