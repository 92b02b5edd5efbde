#!/usr/bin/env bash
# The held-out benchmark's main rows for several (adapters, VAE decoder) pairs side by side on one GPU box
# (run from training/), each on the shipped base, so a new adapter run and a new decoder are scored alone
# and together against the shipped pack on the same card:
#   bash scripts/gpu_combo_bench.sh MINUTES NAME=ADAPTERS:VAE …
# ADAPTERS: a folder with adapters.part* + adapters.json ("-": $SHIPPED_ADAPTERS); VAE: a folder with
# vae.json + vae.part* or its weights/ ("-": $SHIPPED_VAE). BENCH_ARGS as gpu_evaluators_bench.sh's.
# Two calls side by side need distinct RUNS, OUT and COMBO_PORT (the first pair's rendezvous port, default 29650).
# $OUT/bench-NAME.tar for each pair (main/bench.{md,json}).
set -uo pipefail
source scripts/gpu_env.sh
MIN=${1:?bench minutes}
shift
OUT=${OUT:-$RUNS/out}
mkdir -p "$OUT"
port=${COMBO_PORT:-29650} names=()
for spec in "$@"; do
  name=${spec%%=*} pair=${spec#*=}
  [[ "$name" =~ ^[A-Za-z0-9_-]+$ && "$pair" == *:* ]] || { echo "pair '$spec': NAME=ADAPTERS:VAE" >&2; exit 2; }
  ad=${pair%%:*} vae=${pair#*:}
  [ "$ad" = - ] && ad=$SHIPPED_ADAPTERS
  [ "$vae" = - ] && vae=$SHIPPED_VAE
  [ -d "$vae/weights" ] && [ ! -f "$vae/vae.part00" ] && vparts=$vae/weights || vparts=$vae
  [ -f "$ad/adapters.json" ] && [ -f "$vae/vae.json" ] && [ -f "$vparts/vae.part00" ] \
    || { echo "pair $name: $ad needs adapters.json, $vae vae.json and vae.part00" >&2; exit 2; }
  W=$(shipped_weights "$RUNS/w-$name") && cp "$vae/vae.json" "$vparts"/vae.part* "$W/" || exit 1
  mkdir -p "$RUNS/c-$name" "$OUT/c-$name"
  RUNS=$RUNS/c-$name OUT=$OUT/c-$name BASE=$W ADAPTERS=$ad BENCH_PORT=$port BENCH_ARGS="${BENCH_ARGS:-}" \
    bash scripts/gpu_evaluators_bench.sh 0 "$MIN" 0 2>&1 | sed "s/^/[$name] /" &
  port=$((port + 1)) names+=("$name")
done
wait
for name in "${names[@]}"; do mv "$OUT/c-$name/bench.tar" "$OUT/bench-$name.tar" && rmdir "$OUT/c-$name"; done
ls -la "$OUT"
