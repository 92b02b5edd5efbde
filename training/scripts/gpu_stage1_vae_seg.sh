#!/usr/bin/env bash
# Stage 1 on the GPU box (run from training/): VAE and segmenter side by side on all GPUs.
# Usage: bash scripts/gpu_stage1_vae_seg.sh VAE_MIN SEG_MIN ; results copied to $OUT.
set -uo pipefail
source scripts/gpu_env.sh
nvidia-smi -L; python3 -c "import torch, tokenizers; print('torch', torch.__version__, 'tokenizers', tokenizers.__version__)"
python3 scripts/bench_generator.py --webp "$WEBP" --batch 256 | tee "$OUT/generator_bench.txt"
torchrun --standalone --nproc_per_node="$NGPU" --master-port 29511 -m dreamcache.train.segmenter --webp "$WEBP" --out "$RUNS/seg" --minutes "${2:-3}" --batch 64 > "$RUNS/seg.out" 2>&1 &
SEG=$!
trun -m dreamcache.train.vae --webp "$WEBP" --out "$RUNS/vae" --minutes "${1:-4}" --batch 64 2>&1 | tee "$RUNS/vae.out" | grep -v '"step"' | tail -5
wait $SEG; tail -3 "$RUNS/seg.out"
mkdir -p "$OUT/vae" "$OUT/seg"
cp "$RUNS/vae/vae.json" "$RUNS/vae/log.jsonl" "$RUNS"/vae/weights/* "$OUT/vae/" 2>/dev/null
cp "$RUNS/seg/segmenter.json" "$RUNS/seg/log.jsonl" "$RUNS"/seg/weights/* "$OUT/seg/" 2>/dev/null
ls -la "$OUT"/*
