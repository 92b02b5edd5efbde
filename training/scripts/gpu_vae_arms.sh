#!/usr/bin/env bash
# Two decoder-only fine-tunes of the shipped VAE side by side on one GPU box (run from training/), then,
# with `bench`, the held-out benchmark's main rows of the shipped pack with each new decoder:
#   P: the pixel losses alone (vae-v2's and v3's recipe, continued);  G: the same plus the patch
#   discriminator. Both start from the shipped VAE ($SHIPPED_VAE, gpu_env.sh; session 27 started from vae-v2).
# Usage: bash scripts/gpu_vae_arms.sh train MINUTES        (a rerun resumes both from $RUNS/vaeP, vaeG)
#        bash scripts/gpu_vae_arms.sh bench BENCH_MINUTES  ($OUT/bench-ARM.tar for each of $ARMS, default
#        "P G"; S is the shipped decoder: ARMS="P G S" scores the baseline on the same box)
# Env: INIT (the VAE both start from, $SHIPPED_VAE), ADV (G's --adv-weight, 0.5), ADV_START (300), BENCH_ARGS (as gpu_evaluators_bench.sh's).
# ADAPTERS (bench: the adapters every arm is scored with, default $SHIPPED_ADAPTERS); bench runs scripts/gpu_combo_bench.sh.
# The encoder is frozen, so every latent, the U-Net, the adapters and users' caches stay valid.
set -uo pipefail
source scripts/gpu_env.sh
OUT=${OUT:-$RUNS/out}
case "${1:?train or bench}" in
  train)
    MIN=${2:?minutes}
    run() { INIT=${INIT:-$SHIPPED_VAE} ANCHOR=0 CHROMA=4 LR=1e-4 VAE_RUN=$1 VAE_PORT=$2 bash scripts/gpu_vae_finetune.sh "$MIN" 64 \
      --freeze-encoder "${@:3}" 2>&1 | sed "s/^/[$1] /"; }
    run vaeP 29541 &
    run vaeG 29542 --adv-weight "${ADV:-0.5}" --adv-start "${ADV_START:-300}" &
    wait ;;
  bench)
    # each arm's decoder with the adapters $ADAPTERS (default the shipped ones), scored side by side
    pairs=()
    for arm in ${ARMS:-P G}; do
      if [ $arm = S ]; then pairs+=("S=${ADAPTERS:--}:-"); else pairs+=("$arm=${ADAPTERS:--}:$RUNS/vae$arm"); fi
    done
    BENCH_ARGS="${BENCH_ARGS:-}" bash scripts/gpu_combo_bench.sh "${2:?bench minutes}" "${pairs[@]}" ;;
  *) echo "usage: gpu_vae_arms.sh train MINUTES | bench BENCH_MINUTES" >&2; exit 2 ;;
esac
