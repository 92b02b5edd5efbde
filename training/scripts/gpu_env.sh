# Sourced by the GPU-box stage scripts: safe NCCL settings, unbuffered logs, GPU count.
export PYTHONUNBUFFERED=1 NCCL_NVLS_ENABLE=0 TORCH_SYMM_MEM_DISABLE_MULTICAST=1 NVSHMEM_DISABLE_NVLS=1
export OMP_NUM_THREADS=4
# GPU indices mean the same to every job when several share the box (CUDA_VISIBLE_DEVICES pins one).
export CUDA_DEVICE_ORDER=PCI_BUS_ID
NGPU=$(python3 -c "import torch; print(max(1, torch.cuda.device_count()))")
RUNS=${RUNS:-$PWD/../.ckpt/runs}
WEBP=${WEBP:-$PWD/../.carry/webp}
mkdir -p "$RUNS"
# A fixed rendezvous port per job family (TRUN_PORT): concurrent torchrun jobs must not share one,
# and torch 1.13's --standalone always takes 29400.
trun() { torchrun --nnodes=1 --master_port="${TRUN_PORT:-29501}" --nproc_per_node="$NGPU" "$@"; }

# The shipped pack's PyTorch weights in one folder (the layout the trainers and the benchmark read):
# tiny-emoji-v1 (U-Net, text encoder, VAE encoder, segmenter) with the VAE of $SHIPPED_VAE (v1's encoder
# bit for bit, the pack's decoder: v3 since tiny-emoji 0.18.0). Prints the folder ($1, default
# $RUNS/shipped). The segmenter stays v1's so masked metrics compare across runs.
SHIPPED_VAE=$PWD/checkpoints/vae-v3
shipped_weights() {
  local w=${1:-$RUNS/shipped}
  rm -rf "$w" && mkdir -p "$w" && cp "$PWD"/checkpoints/tiny-emoji-v1/* "$w/" \
    && cp "$SHIPPED_VAE"/vae.json "$SHIPPED_VAE"/vae.part* "$w/" && echo "$w"
}

# The same folder with session 36's continued U-Net (checkpoints/tiny-emoji-v2: U-Net 6,738 updates, text
# encoder tiny-emoji-v1's bit for bit) in place of v1's. Prints the folder ($1, default $RUNS/newbase). Safe to
# call again on a warm box: it rebuilds the same folder, where calling shipped_weights on it would put v1 back
# (session 36's run 111 trained on v1 that way by mistake).
NEW_BASE=$PWD/checkpoints/tiny-emoji-v2
newbase_weights() {
  local w=${1:-$RUNS/newbase}
  shipped_weights "$w" >/dev/null && cp "$NEW_BASE"/base.json "$NEW_BASE"/unet.part* "$NEW_BASE"/text_encoder.part* "$w/" \
    && echo "$w"
}

# The adapters the embedded pack ships: where adapter training continues from and what "shipped" scores.
SHIPPED_ADAPTERS=$PWD/checkpoints/adapters-v16-w8

# A benchmark resumes from the records in its folder; records of other weights would mix in, so a call
# starts its folders clean unless BENCH_RESUME=1 (the same weights, after its time box ran out).
fresh_bench() { [ "${BENCH_RESUME:-0}" = 1 ] || rm -rf "$@"; }

# The judges a benchmark scores with: those this box trained (eval_finish below), else the committed
# ones, so every gap percentage uses the same judges unless a call trains new ones.
judges() {
  if [ -f "$RUNS/evaluators/identity.json" ]; then echo "$RUNS/evaluators"; else echo "$PWD/checkpoints/evaluators-v2"; fi
}

# The three evaluators side by side, one GPU each job sees, each its own rendezvous port (torch 1.13's
# --standalone always takes 29400). eval_start MINUTES KIND… launches them (PIDs in EVAL_PIDS);
# eval_finish KIND… waits, stores each as bf16 parts (as committed: the judges later leases load) in
# $RUNS/evaluators and tars it into $OUT/eval-KIND.tar. Extra trainer args: EVAL_ARGS; batch: EBATCH.
eval_start() {
  local min=$1 port=29511 k
  shift
  EVAL_PIDS=()
  for k in "$@"; do
    port=$((port + 1))
    torchrun --nnodes=1 --master_port=$port --nproc_per_node="$NGPU" -m dreamcache.eval.train_$k --webp "$WEBP" \
      --out "$RUNS/eval-$k" --minutes "$min" --batch "${EBATCH:-256}" ${EVAL_ARGS:-} > "$RUNS/eval-$k.out" 2>&1 &
    EVAL_PIDS+=($!)
  done
}
eval_finish() {
  local p k
  for p in "${EVAL_PIDS[@]}"; do wait "$p"; done
  mkdir -p "$RUNS/evaluators" "$OUT"
  for k in "$@"; do
    grep '"done"' "$RUNS/eval-$k/log.jsonl" | tail -1 || tail -5 "$RUNS/eval-$k.out"
    python3 -c "import sys; from dreamcache.train.common import load_split, save_split as s; \
w=sys.argv[1]; s(load_split(w, sys.argv[2]), w, sys.argv[2])" "$RUNS/eval-$k/weights" "$k"
    cp "$RUNS/eval-$k/$k.json" "$RUNS"/eval-$k/weights/* "$RUNS/evaluators/"
    tar -C "$RUNS/eval-$k" -cf "$OUT/eval-$k.tar" "$k.json" log.jsonl weights
  done
}
