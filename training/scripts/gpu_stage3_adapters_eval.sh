#!/usr/bin/env bash
# Stage 3 on the GPU box (run from training/), in calls of at most 10 minutes; every phase is
# time-boxed and resumes from the box's state under $RUNS on a warm machine.
#   bash scripts/gpu_stage3_adapters_eval.sh train MINUTES [EVAL_MINUTES]
#       DreamCache adapters (DDP on every GPU, resumes), and with EVAL_TRAIN=1 — once, beside them on
#       the same GPUs — the three evaluators (identity, clip, scene; EVAL_MINUTES each, default 4).
#   bash scripts/gpu_stage3_adapters_eval.sh bench MINUTES [extra bench args…]
#       the held-out benchmark + ablations (resumes from its records; rerun until not partial).
# GPUs: every GPU the job sees (pin with CUDA_VISIBLE_DEVICES=1,2,3 to leave GPU 0 to another job).
# AINIT: adapter weights to start a fresh run from (e.g. checkpoints/adapters-v1); ALR: adapter lr.
# Batch sizes: ABATCH (adapters, 256/GPU), EBATCH (evaluators, 256/GPU), BBATCH (bench images per
# sampler call, 512); EVAL_ARGS are extra evaluator-trainer arguments (CPU dry runs).
# Judges (EVAL): judges() of gpu_env.sh — those this box trained, else the committed evaluators-v2;
# EVAL_TRAIN=1 trains new ones into $RUNS/evaluators (default 0: every gap keeps the committed judges).
# BASE: pack weights (default the shipped ones, shipped_weights in gpu_env.sh).
# AGENERIC: the adapter trainer's --generic-name probability (default: the trainer's).
# ARECOLOUR: the adapter trainer's --recolour probability (default 0: subjects keep their colours).
# AWIDTH: --adapter-width of a fresh adapter run (default 1; must match a resumed run, and match AINIT's
# weights or be a multiple of their width: then they grow into the wider adapter).
# Results go to $OUT as at most 8 files, each < 16 MiB (tarballs of split weights and logs).
set -uo pipefail
source scripts/gpu_env.sh
PHASE=${1:?train or bench}
MIN=${2:?minutes}
BASE=${BASE:-$(shipped_weights)}
EVAL=${EVAL:-$(judges)}
mkdir -p "$OUT"

filter() { grep -v Warn | awk '/"step"/{n++; if (n%10==1) print; next} /done|start|Error|error|Traceback/'; }

if [ "$PHASE" = train ]; then
  EMIN=${3:-4}
  RAN=()
  for k in identity clip scene; do
    [ "${EVAL_TRAIN:-0}" != 0 ] && [ ! -f "$RUNS/eval-$k/$k.json" ] && RAN+=("$k")
  done
  eval_start "$EMIN" "${RAN[@]}"
  trun -m dreamcache.train.adapters --webp "$WEBP" --base "$BASE" --out "$RUNS/adapters" --minutes "$MIN" \
    --batch "${ABATCH:-256}" --lr "${ALR:-1e-4}" ${AINIT:+--init-from "$AINIT"} \
    ${AGENERIC:+--generic-name "$AGENERIC"} ${ARECOLOUR:+--recolour "$ARECOLOUR"} ${AWIDTH:+--adapter-width "$AWIDTH"} 2>&1 | tee -a "$RUNS/adapters.out" | filter
  # only evaluators trained in this call come back: $OUT holds at most 8 files per call
  eval_finish "${RAN[@]}"
  tar -C "$RUNS/adapters" -cf "$OUT/adapters.tar" adapters.json log.jsonl weights
elif [ "$PHASE" = bench ]; then
  shift 2
  trun -m dreamcache.eval.bench --weights "$BASE" --adapters "$RUNS/adapters/weights" --evaluators "$EVAL" \
    --webp "$WEBP" --out "$RUNS/bench" --minutes "$MIN" --batch "${BBATCH:-512}" --ablation-steps 25 "$@" 2>&1 \
    | tee -a "$RUNS/bench.out" | grep -v Warn | tail -60
  cp "$RUNS/bench/bench.md" "$RUNS/bench/bench.json" "$OUT/" 2>/dev/null
  # PNGs and per-image records in one file: a chained "train … && bench …" call stays ≤ 8 files
  (cd "$RUNS/bench" && tar -czf "$OUT/bench.tar.gz" records $(ls grid.png sweep.png 2>/dev/null))
else
  echo "unknown phase $PHASE (train | bench)"; exit 2
fi
ls -la "$OUT"
