// The DreamCache denoising loop, in one place: one batched U-Net call per step with the rows
// the guidance plan asks for, guidance, scheduler step, cancellation and previews.
import { CancelledError } from './errors';
import { applyGuidance, imageScaleAt, type GuidancePlan } from './guidance';
import type { Scheduler } from './schedulers';
import { yieldToEventLoop } from './yield';

export interface UnetBatch {
  /** [B, C, h, w]: the current latent repeated per row. */
  sample: Float32Array;
  /** [B]: the same timestep for every row. */
  timestep: Float32Array;
  /** [B]: 0 = base model, 1 = adapters on. */
  gates: Float32Array;
  /** Per row: condition on the prompt (true) or on the empty prompt (false). */
  usePrompt: boolean[];
  batch: number;
}

export interface SampleOptions {
  scheduler: Scheduler;
  steps: number;
  /** Initial latent x_T, [C·h·w]; consumed. */
  initialLatent: Float32Array;
  plan: GuidancePlan;
  textScale: number;
  imageScale: number;
  /** sI at the last step: sI ramps linearly from `imageScale` (first step) to this; absent → constant. */
  imageScaleEnd?: number;
  /** Returns noise_pred for the batch, [B·C·h·w]. */
  runUnet: (batch: UnetBatch) => Promise<Float32Array>;
  isCancelled: () => boolean;
  /** After every step; `predOriginal` is x̂0 of that step (for previews). */
  onStep?: (step: number, total: number, predOriginal: Float32Array) => Promise<void> | void;
}

export async function sampleLatent(o: SampleOptions): Promise<Float32Array> {
  const { scheduler, plan } = o;
  scheduler.setTimesteps(o.steps);
  const B = plan.rows.length;
  const n = o.initialLatent.length;
  let latent = o.initialLatent;
  if (scheduler.initNoiseSigma !== 1) for (let i = 0; i < n; i++) latent[i] *= scheduler.initNoiseSigma;
  const gates = Float32Array.from(plan.rows, (r) => r.gate);
  const usePrompt = plan.rows.map((r) => r.usePrompt);
  const total = scheduler.timesteps.length;

  for (let i = 0; i < total; i++) {
    await yieldToEventLoop(); // lets a cancel message in
    if (o.isCancelled()) throw new CancelledError('Generation cancelled');
    const t = scheduler.timesteps[i];
    const sample = new Float32Array(B * n);
    for (let b = 0; b < B; b++) sample.set(latent, b * n);
    const eps = await o.runUnet({ sample, timestep: new Float32Array(B).fill(t), gates, usePrompt, batch: B });
    if (o.isCancelled()) throw new CancelledError('Generation cancelled');
    const guided = applyGuidance(plan, eps, o.textScale, imageScaleAt(i, total, o.imageScale, o.imageScaleEnd));
    const { prevSample, predOriginal } = scheduler.step(guided, t, latent);
    latent = prevSample;
    await o.onStep?.(i + 1, total, predOriginal);
  }
  return latent;
}
