// Which rows of a batched U-Net call can share the U-Net's encoder. The adapters act from the
// mid-block transformer on, so rows with the same latent, timestep and text that differ only in
// adapter_gate (DreamCache's e_u and e_i) are identical up to there; a pack whose unet graph takes
// `encoder_row` (docs/model-pack.md) runs the encoder once for them.

export interface EncoderRows {
  /** For each encoder row, the batch row whose sample, timestep and text it takes. */
  source: number[];
  /** For each batch row, the encoder row it continues (the graph's `encoder_row`). */
  encoderRow: number[];
}

/**
 * Groups batch rows by text condition, in first-use order. Only valid when every row has the
 * same latent and timestep, as in one denoising step (sample.ts).
 */
export function shareEncoderRows(usePrompt: readonly boolean[]): EncoderRows {
  const source: number[] = [];
  const encoderRow = usePrompt.map((p, r) => {
    const s = source.findIndex((q) => usePrompt[q] === p);
    if (s >= 0) return s;
    source.push(r);
    return source.length - 1;
  });
  return { source, encoderRow };
}

/** Every row through the whole U-Net: for graphs without `encoder_row`, or when sharing is off. */
export function ownEncoderRows(batch: number): EncoderRows {
  const rows = Array.from({ length: batch }, (_, r) => r);
  return { source: rows, encoderRow: [...rows] };
}

/** Rows [B, …] of equal size → the rows named by `source`, [S, …]. */
export function pickRows(data: Float32Array, batch: number, source: readonly number[]): Float32Array {
  const n = data.length / batch;
  if (!Number.isInteger(n)) throw new Error(`${data.length} values do not split into ${batch} rows`);
  const out = new Float32Array(source.length * n);
  source.forEach((r, s) => out.set(data.subarray(r * n, (r + 1) * n), s * n));
  return out;
}
