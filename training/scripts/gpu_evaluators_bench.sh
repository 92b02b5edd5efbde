#!/usr/bin/env bash
# The three evaluators trained side by side on the GPU box, then the held-out benchmark's main rows
# for a base + adapters with them, and the training-split diagnostic (text-only with the learned name:
# the base model's own ceiling). Run from training/; other jobs may share the GPU.
# Usage: bash scripts/gpu_evaluators_bench.sh EVAL_MIN BENCH_MIN SPLIT_MIN (0: no training-split run)
# EVAL_MIN 0: no training; the judges are judges() of gpu_env.sh (this box's, else the committed ones).
# Env: BASE (pack weights, default the shipped ones: shipped_weights in gpu_env.sh), ADAPTERS (default
# $SHIPPED_ADAPTERS from gpu_env.sh, the shipped ones), EVAL (an evaluator folder to use instead of training them), EBATCH (256),
# BBATCH (512), BENCH_RESUME (1: continue the records already in $RUNS/bench-main), BENCH_ARGS (more
# arguments of the main bench, e.g. "--ablations cache_t,layers,prompted": a later flag wins), BENCH_PORT
# (29630; two benchmarks side by side need two ports and two RUNS folders).
# $OUT gets eval-{identity,clip,scene}.tar (only those trained here; bf16 parts) and bench.tar (bench.md/json, the
# grid, records.jsonl.gz: every image's scores): 4 files.
set -uo pipefail
source scripts/gpu_env.sh
EMIN=${1:?evaluator minutes} BMIN=${2:?bench minutes} SMIN=${3:?train-split bench minutes}
BASE=${BASE:-$(shipped_weights)}
ADAPTERS=${ADAPTERS:-$SHIPPED_ADAPTERS}
OUT=${OUT:-$RUNS/out}
mkdir -p "$OUT"
if [ "$EMIN" != 0 ] && [ -z "${EVAL:-}" ]; then
  eval_start "$EMIN" identity clip scene
  eval_finish identity clip scene
fi
EVAL=${EVAL:-$(judges)}
B=$RUNS/bench-main S=$RUNS/bench-train
fresh_bench "$B" "$S"
TRUN_PORT=${BENCH_PORT:-29630} trun -m dreamcache.eval.bench --weights "$BASE" --adapters "$ADAPTERS" --evaluators "$EVAL" \
  --webp "$WEBP" --out "$B" --batch "${BBATCH:-512}" --seeds 1 --steps 25 --image-scale 8 --ablations none \
  --grid-subjects 12 --minutes "$BMIN" ${BENCH_ARGS:-} 2>&1 | grep -v Warn | tail -32
[ "$SMIN" != 0 ] && TRUN_PORT=29631 trun -m dreamcache.eval.bench --weights "$BASE" --adapters "$ADAPTERS" --evaluators "$EVAL" \
  --webp "$WEBP" --out "$S" --split train --limit-subjects 160 --batch "${BBATCH:-512}" --seeds 1 --steps 25 \
  --image-scale 8 --ablations none --minutes "$SMIN" 2>&1 | grep -v Warn | tail -12
mkdir -p "$RUNS/bench-out/main" "$RUNS/bench-out/train"
cp "$B"/bench.md "$B"/bench.json "$B"/*.png "$RUNS/bench-out/main/" 2>/dev/null
# every image's scores (≈ 1 MB gzipped for 4 rows of 4,000): per-subject and per-prompt analyses need no GPU
cat "$B"/records/*.jsonl 2>/dev/null | gzip -c > "$RUNS/bench-out/main/records.jsonl.gz"
cp "$S"/bench.md "$S"/bench.json "$RUNS/bench-out/train/" 2>/dev/null
tar -C "$RUNS/bench-out" -cf "$OUT/bench.tar" main train
ls -la "$OUT"
