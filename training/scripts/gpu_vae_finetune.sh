#!/usr/bin/env bash
# VAE v2 on the GPU box (run from training/): fine-tunes the committed VAE with its latents anchored
# to the starting encoder's and the opponent-chroma loss (docs/evaluation.md, "The VAE flattens
# green–magenta"), resumable in $RUNS/vae2 (a rerun continues from its checkpoint), then scores it
# with the colour probe and packs vae.json + log.jsonl + weights + probe.json into $OUT/vae2.tar.
# Usage: bash scripts/gpu_vae_finetune.sh MINUTES [BATCH] [extra trainer args]
# Env: INIT (VAE to start from, default checkpoints/tiny-emoji-v1), ANCHOR (--anchor-weight, 1),
# CHROMA (--chroma-weight, 1), CROP (0: whole images), LR (1e-4), VAE_PORT (29541), VAE_RUN (the run's
# folder under $RUNS and its tar's name, vae2; two runs side by side need two names and two ports).
# Decoder only (every latent stays, so the U-Net and adapters need nothing): ANCHOR=0 … --freeze-encoder.
set -uo pipefail
source scripts/gpu_env.sh
INIT=${INIT:-$PWD/checkpoints/tiny-emoji-v1}
OUT=${OUT:-$RUNS/out}
RUN=$RUNS/${VAE_RUN:-vae2}
MIN=${1:?minutes}
BATCH=${2:-64}
shift $(( $# >= 2 ? 2 : $# ))
mkdir -p "$OUT" "$RUN"
TRUN_PORT=${VAE_PORT:-29541} trun -m dreamcache.train.vae --webp "$WEBP" --out "$RUN" --init-from "$INIT" \
  --anchor-weight "${ANCHOR:-1}" --chroma-weight "${CHROMA:-1}" --crop "${CROP:-0}" --lr "${LR:-1e-4}" \
  --minutes "$MIN" --batch "$BATCH" "$@" 2>&1 | tee -a "$RUN/train.out" | grep -v Warn \
  | awk '/"step"/{n++; if (n%10==1) print; next} /done|start|Error|error|Traceback/'
python3 scripts/vae_colour_probe.py --vae "$RUN" --webp "$WEBP" --drift-from "$INIT" --json "$RUN/probe.json" \
  --grid "$RUN/colour.png" 2>&1 | grep -v Warn
tar -C "$RUN" -cf "$OUT/${VAE_RUN:-vae2}.tar" vae.json log.jsonl weights probe.json colour.png
ls -la "$OUT"
