#!/usr/bin/env bash
# The held-out benchmark's main rows for several (adapters, VAE decoder) pairs side by side on one GPU box
# (run from training/), each on the shipped base, so a new adapter run and a new decoder are scored alone
# and together against the shipped pack on the same card:
#   bash scripts/gpu_combo_bench.sh MINUTES NAME=ADAPTERS:VAE[@ARGS] …
# ADAPTERS: a folder with adapters.part* + adapters.json ("-": $SHIPPED_ADAPTERS); VAE: a folder with
# vae.json + vae.part* or its weights/ ("-": $SHIPPED_VAE). BENCH_ARGS as gpu_evaluators_bench.sh's, for
# every pair; ARGS (quote the spec) go after them for that pair alone, a later flag winning, so one call
# scores other ramps or step counts side by side: 'V12=-:-@--image-scale 12 --image-scale-end 6'.
# Two calls side by side need distinct RUNS, OUT and COMBO_PORT (the first pair's rendezvous port, default 29650).
# $OUT/bench-NAME.tar for each pair (main/bench.{md,json}). EVALUATORS_BENCH: the script each pair runs
# (default scripts/gpu_evaluators_bench.sh; tests/test_gpu_combo_bench.py gives one that records its inputs).
set -uo pipefail
source scripts/gpu_env.sh
MIN=${1:?bench minutes}
shift
OUT=${OUT:-$RUNS/out}
mkdir -p "$OUT"
# every pair is checked before any starts, so a typo in the last one costs no GPU time
names=() ads=() vaes=() vpartss=() extras=()
for spec in "$@"; do
  name=${spec%%=*} pair=${spec#*=} extra=
  [[ "$pair" == *@* ]] && { extra=${pair#*@}; pair=${pair%%@*}; }
  [[ "$spec" == *=* && "$name" =~ ^[A-Za-z0-9_-]+$ && "$pair" == *:* ]] \
    || { echo "pair '$spec': NAME=ADAPTERS:VAE[@ARGS]" >&2; exit 2; }
  [[ " ${names[*]} " == *" $name "* ]] && { echo "pair $name: named twice" >&2; exit 2; }
  ad=${pair%%:*} vae=${pair#*:}
  [ "$ad" = - ] && ad=$SHIPPED_ADAPTERS
  [ "$vae" = - ] && vae=$SHIPPED_VAE
  [ -d "$vae/weights" ] && [ ! -f "$vae/vae.part00" ] && vparts=$vae/weights || vparts=$vae
  [ -f "$ad/adapters.json" ] && [ -f "$vae/vae.json" ] && [ -f "$vparts/vae.part00" ] \
    || { echo "pair $name: $ad needs adapters.json, $vae vae.json and vae.part00" >&2; exit 2; }
  names+=("$name") ads+=("$ad") vaes+=("$vae") vpartss+=("$vparts") extras+=("$extra")
done
[ ${#names[@]} -gt 0 ] || { echo "no pairs: NAME=ADAPTERS:VAE[@ARGS] …" >&2; exit 2; }
port=${COMBO_PORT:-29650}
for i in "${!names[@]}"; do
  name=${names[$i]}
  W=$(shipped_weights "$RUNS/w-$name") && cp "${vaes[$i]}/vae.json" "${vpartss[$i]}"/vae.part* "$W/" || exit 1
  mkdir -p "$RUNS/c-$name" "$OUT/c-$name"
  RUNS=$RUNS/c-$name OUT=$OUT/c-$name BASE=$W ADAPTERS=${ads[$i]} BENCH_PORT=$port \
    BENCH_ARGS="${BENCH_ARGS:-} ${extras[$i]}" \
    bash "${EVALUATORS_BENCH:-scripts/gpu_evaluators_bench.sh}" 0 "$MIN" 0 2>&1 | sed "s/^/[$name] /" &
  port=$((port + 1))
done
wait
for name in "${names[@]}"; do mv "$OUT/c-$name/bench.tar" "$OUT/bench-$name.tar" && rmdir "$OUT/c-$name"; done
ls -la "$OUT"
