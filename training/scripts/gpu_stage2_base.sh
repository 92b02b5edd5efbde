#!/usr/bin/env bash
# Stage 2 on the GPU box (run from training/): base U-Net + text encoder, resumable; optionally
# the segmenter continues beside it (SEG_MIN > 0), sharing the GPUs.
# Usage: bash scripts/gpu_stage2_base.sh MINUTES [BATCH] [SEG_MIN] [extra base-trainer args, e.g. --ema-decay 0.998]
# EMA weights (bf16, split) to $OUT/base/ as weight parts + meta.tar (base.json, log.jsonl): 4 files.
# PRESET (default tiny): the model preset. RESUME: the weights a bare box starts from (unet and text_encoder
# parts with their base.json), by default the committed `tiny` ones for PRESET tiny; another preset (e.g.
# tiny-wide) starts from scratch unless RESUME names weights of its own shape (the trainer checks the shapes
# before it loads anything). A checkpoint in $RUNS/base (a warm box) wins over both.
set -uo pipefail
source scripts/gpu_env.sh
OUT=${OUT:-$RUNS/out}
EXTRA=("${@:4}")
VAE=${VAE:-$RUNS/vae}
PRESET=${PRESET:-tiny}
# On a fresh box: the committed resume weights (docs/training.md, "Resuming").
[ "$PRESET" = tiny ] && RESUME=${RESUME:-$PWD/checkpoints/tiny-emoji-v1}
RESUME=${RESUME:-}
# The frozen VAE: $RUNS/vae (a box that trained one), else RESUME's, else tiny-emoji-v1's, which every preset
# of its latent size (tiny, tiny-wide) shares.
if [ ! -f "$VAE/vae.json" ]; then
  if [ -n "$RESUME" ] && [ -f "$RESUME/vae.json" ]; then VAE=$RESUME; else VAE=$PWD/checkpoints/tiny-emoji-v1; fi
fi
INIT=""
[ -d "$RUNS/base/ckpt" ] || [ -z "$RESUME" ] || INIT="--init-from $RESUME"
SEG=""
if [ "${3:-0}" != "0" ]; then
  torchrun --standalone --nproc_per_node="$NGPU" -m dreamcache.train.segmenter --webp "$WEBP" --out "$RUNS/seg" --minutes "$3" --batch 64 > "$RUNS/seg2.out" 2>&1 &
  SEG=$!
fi
TRUN_PORT=${BASE_PORT:-29501} trun -m dreamcache.train.base --preset "$PRESET" --webp "$WEBP" --vae "$VAE" --out "$RUNS/base" --minutes "${1:-8}" --batch "${2:-256}" $INIT "${EXTRA[@]}" 2>&1 | tee "$RUNS/base.out" | grep -v Warn | awk '/"step"/{n++; if (n%10==1) print; next} /done|start|Error|error/'
[ -n "$SEG" ] && { wait $SEG; grep '"done"' "$RUNS/seg2.out"; mkdir -p "$OUT/seg"; cp "$RUNS/seg/segmenter.json" "$RUNS/seg/log.jsonl" "$RUNS"/seg/weights/* "$OUT/seg/"; }
mkdir -p "$OUT/base"
cp "$RUNS"/base/weights/* "$OUT/base/" 2>/dev/null
tar -C "$RUNS/base" -cf "$OUT/base/meta.tar" base.json log.jsonl
ls -la "$OUT"/*
