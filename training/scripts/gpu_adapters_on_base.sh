#!/usr/bin/env bash
# On a warm GPU box after gpu_stage2_base.sh and gpu_evaluators_bench.sh: the adapters continue on the
# base model this box just trained, then the held-out main rows are scored with the judges the
# baseline was scored with (this box's, else the committed evaluators-v2). Run from training/.
# Usage: bash scripts/gpu_adapters_on_base.sh ADAPTER_MIN BENCH_MIN
# Env: BASE_RUN ($RUNS/base), AINIT ($SHIPPED_ADAPTERS, gpu_env.sh), ALR (4e-4), AGENERIC (0.95).
# Exits 3 at once when the box lacks that base (a fresh box).
set -uo pipefail
source scripts/gpu_env.sh
AMIN=${1:?adapter minutes} BMIN=${2:?bench minutes}
BASE_RUN=${BASE_RUN:-$RUNS/base}
if ! ls "$BASE_RUN"/weights/unet.part* > /dev/null 2>&1; then
  echo "no trained base in $BASE_RUN/weights: a fresh box"; exit 3
fi
# The shipped weights with the new U-Net and text encoder in place of theirs (old parts removed first:
# split files are joined by name, so a leftover part would corrupt the new weights).
NB=$(shipped_weights "$RUNS/newbase") && rm -f "$NB"/unet.part* "$NB"/text_encoder.part* \
  && cp "$BASE_RUN"/weights/* "$BASE_RUN/base.json" "$NB/" || exit 1
export BASE=$NB AINIT=${AINIT:-$SHIPPED_ADAPTERS} ALR=${ALR:-4e-4} AGENERIC=${AGENERIC:-0.95} EVAL_TRAIN=0
bash scripts/gpu_stage3_adapters_eval.sh train "$AMIN" && \
  bash scripts/gpu_stage3_adapters_eval.sh bench "$BMIN" --seeds 1 --steps 25 --image-scale 8 --ablations none
