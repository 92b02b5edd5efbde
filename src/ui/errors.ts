import { CancelledError } from '../runtime/errors';

// Typed errors for what users hand the app. Each carries a machine-readable reason (tests
// and UI branch on it) and a message written for the person who dropped the file.

export type PhotoErrorReason = 'empty' | 'not-an-image' | 'too-many-pixels' | 'too-big' | 'undecodable';

export class PhotoInputError extends Error {
  override name = 'PhotoInputError';
  constructor(
    readonly reason: PhotoErrorReason,
    message: string,
  ) {
    super(message);
  }
}

export type ImportErrorReason = 'empty' | 'too-big' | 'no-model' | 'invalid' | 'other-model';

export class ImportError extends Error {
  override name = 'ImportError';
  constructor(
    readonly reason: ImportErrorReason,
    message: string,
  ) {
    super(message);
  }
}

/** The engine's cancel rejection (revived across the worker boundary as CancelledError). */
export function isCancellation(err: unknown): boolean {
  return err instanceof CancelledError || (err instanceof Error && err.name === 'CancelledError');
}

export function messageOf(err: unknown): string {
  if (err instanceof Error) return err.message || err.name;
  return String(err);
}

export function formatMegapixels(pixels: number): string {
  return `${(pixels / 1e6).toFixed(1)} MP`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
