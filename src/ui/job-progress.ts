// The running job (segmenting, cache building, generating) and how progress events move it
// along: pure functions, so the seconds-per-step estimate is testable.
import type { ProgressEvent, RgbaImage } from '../runtime/engine-types';

export interface Job {
  kind: 'segment' | 'cache' | 'generate';
  step: number;
  total: number;
  message?: string;
  preview: RgbaImage | null;
  cancelling: boolean;
  startedAt: number;
  /** Generating several images: which one runs now (1-based) of how many. */
  run?: { index: number; count: number };
  /** When the last step finished, and a running average of seconds per step (null until two steps). */
  lastStepAt: number | null;
  secondsPerStep: number | null;
}

export function startJob(kind: Job['kind'], total: number, now: number): Job {
  return { kind, step: 0, total, preview: null, cancelling: false, startedAt: now, lastStepAt: null, secondsPerStep: null };
}

/** `now` in milliseconds (performance.now()). */
export function applyProgress(job: Job, event: ProgressEvent, now: number): Job {
  let { lastStepAt, secondsPerStep } = job;
  if (event.step > job.step) {
    // The first step also pays for text encoding; the rate counts from the second on.
    if (lastStepAt !== null) {
      const dt = (now - lastStepAt) / 1000 / (event.step - job.step);
      secondsPerStep = secondsPerStep === null ? dt : 0.7 * secondsPerStep + 0.3 * dt;
    }
    lastStepAt = now;
  }
  return {
    ...job,
    step: event.step,
    total: event.total,
    message: event.message,
    preview: event.preview ?? job.preview,
    lastStepAt,
    secondsPerStep,
  };
}

/** The job at the start of the next image of a run: steps and preview start over, the speed is kept. */
export function nextImage(job: Job, index: number, count: number): Job {
  return { ...job, step: 0, preview: null, message: undefined, lastStepAt: null, run: { index, count } };
}

export function formatDuration(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`;
  const whole = Math.ceil(seconds);
  return `${Math.floor(whole / 60)} min ${whole % 60} s`;
}
