#!/usr/bin/env bash
# The whole GPU benchmark on the CUDA box, in one command from the repository root:
#   bash bench/gpu/run_on_box.sh          (carry: .carry/gpu-bench, built by prepare_carry.sh)
# Unpacks Node, the JS packages and the Vulkan loader; makes the random SD 1.5 pack (fp32 +
# fp16) through the converter; runs torch_bench.py (CUDA fp16) and ort_bench.mjs (onnxruntime-web
# WebGPU via Dawn, fp16 then fp32); writes to $OUT at most 4 files: bench.md, bench.json, run.log
# and logs.tar.gz (every raw result JSON and log).
#   PACK_ONLY=1 bash bench/gpu/run_on_box.sh   (no carry needed) only starts the pack stages,
# detached and one after another, and returns at once: they keep going on the warm machine while
# a later plain call (with the carry) unpacks the rest, waits for them and runs the benchmarks.
# Resumable: work lives in .carry/gpu-work (ignored, kept on a warm machine) and finished stages
# are skipped, so a call cut off by the 10-minute limit is simply repeated.
# Shared multi-GPU box: everything runs on GPU $BENCH_GPU (default 0, nvidia-smi's numbering).
# torch and the pack's CUDA stages through CUDA_VISIBLE_DEVICES; Dawn (Vulkan) ignores that and
# takes the first GPU the Vulkan loader lists, which sorts by PCI bus, i.e. GPU 0: run.log keeps
# nvidia-smi snapshots taken during each ORT run to show which card it used.
# Env: BUDGET_S (default 570: seconds this call may use), STEPS (50), RUNS (10), BENCH_GPU (0);
# PROFILE=1: the fp16 run ends with ort_bench's --profile stage (GPU time per kernel of unet_b2,
# in bench.md's "Where the time goes"); if that run was already complete or had no time left for
# it, a separate --profile-only run (ort_webgpu_fp16_profile) does it after the fp32 run.
# for a CPU dry run of the same script: PRESET=small EP=wasm FP16_GRAPH=0.
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
CARRY=$ROOT/.carry/gpu-bench
WORK=${GPU_BENCH_WORK:-$ROOT/.carry/gpu-work}
OUT=${OUT:-$ROOT/.device-out}
BUDGET=${BUDGET_S:-570}
STEPS=${STEPS:-50}
RUNS=${RUNS:-10}
PRESET=${PRESET:-sd15}
EP=${EP:-webgpu}
FP16_GRAPH=${FP16_GRAPH:-1}   # 0: no float16 graphs (CPU dry run)
PACK_ONLY=${PACK_ONLY:-0}
BENCH_GPU=${BENCH_GPU:-0}
PROFILE=${PROFILE:-0}
# PCI order makes CUDA's numbering nvidia-smi's (CUDA's default puts the fastest card first).
export CUDA_DEVICE_ORDER=PCI_BUS_ID CUDA_VISIBLE_DEVICES=$BENCH_GPU
START=$(date +%s)
left() { local l=$((BUDGET - ($(date +%s) - START))); [ "$l" -lt 1 ] && l=1; echo "$l"; }  # timeout 0 = no limit
RES=$WORK/results
mkdir -p "$WORK" "$OUT" "$RES"
log() { echo "[$(( $(date +%s) - START ))s] $*" | tee -a "$OUT/run.log"; }

gpu_table() { nvidia-smi --query-gpu=index,pci.bus_id,memory.used,utilization.gpu --format=csv,noheader 2>/dev/null; }

finish() {
  [ "$PACK_ONLY" = 1 ] && return
  python3 bench/gpu/report.py "$OUT" "$RES/torch.json" "$RES/ort_webgpu_fp16.json" "$RES/ort_webgpu_fp32.json" \
    "$RES/ort_webgpu_fp16_profile.json" "$RES/ort_alt_webgpu_fp16.json" > /dev/null 2>>"$OUT/run.log" && log "wrote $OUT/bench.md and bench.json"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$OUT/run.log" 2>/dev/null
  # One archive for the raw JSON and logs: the caller's other jobs need the rest of $OUT's file limit.
  (cd "$RES" && tar -czf "$OUT/logs.tar.gz" $(ls *.json *.log *.json.gz 2>/dev/null)) 2>/dev/null
}
trap finish EXIT

# --- 1. unpack the carry (once per machine; PACK_ONLY needs none of it) ---------------------------
if [ "$PACK_ONLY" != 1 ]; then
  if [ ! -d training/dreamcache ]; then
    python3 -c "import tarfile; tarfile.open('$CARRY/code.tar.xz').extractall('.')"
  fi
  if [ ! -x "$WORK/node" ]; then
    python3 -c "import lzma, shutil; shutil.copyfileobj(lzma.open('$CARRY/node.xz'), open('$WORK/node', 'wb'))"
    chmod +x "$WORK/node"
  fi
  if [ ! -f node_modules/webgpu/index.js ] || [ ! -f node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs ]; then
    python3 -c "import tarfile; tarfile.open('$CARRY/node_modules.tar.xz').extractall('.')"
  fi
  if [ "$EP" = webgpu ] && ! ldconfig -p | grep -q 'libvulkan.so.1 '; then
    for f in "$CARRY"/debs/*.deb; do dpkg -x "$f" /; done
    ldconfig
  fi
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    if [ -f "$icd" ]; then export VK_DRIVER_FILES=$icd; break; fi
  done
  log "node $("$WORK/node" --version), VK_DRIVER_FILES=${VK_DRIVER_FILES:-none found}"
fi
log "BENCH_GPU=$BENCH_GPU (CUDA_VISIBLE_DEVICES=$CUDA_VISIBLE_DEVICES, CUDA_DEVICE_ORDER=PCI_BUS_ID); GPUs (index, bus, memory, util):"
gpu_table | tee -a "$OUT/run.log"
if [ "$BENCH_GPU" != 0 ] && [ "$EP" = webgpu ] && [ "$PACK_ONLY" != 1 ]; then
  # The loader sorts identical cards by PCI bus and dawn.node takes the first; its `adapter=`
  # flag and VK_LOADER_DEVICE_SELECT (vendor:device id) both match every H100 alike.
  log "WARNING: Dawn cannot be pinned to GPU $BENCH_GPU: the ORT runs will use the first GPU by PCI bus (GPU 0)"
fi

# --- 2. the pack: random SD 1.5 weights → diffusers folder → converter → pack ------------------
# Three steps, each resumable. The fp32 export of the 3.4 GB U-Net alone takes minutes, so the
# steps run detached (setsid): if this call's time runs out, a step keeps going on the warm
# machine and the next call of this script waits for it instead of starting over. Each stage
# records the pid running it in pack-<stage>.pid and ends with pack-<stage>.done.
stages="weights fp32"
[ "$FP16_GRAPH" = 1 ] && stages="$stages fp16"
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
stage_cmd() {
  echo "python3 -W ignore bench/gpu/make_sd15_pack.py --work '$WORK' --preset '$PRESET' --stage $1 \
    > '$RES/make_pack_$1.log' 2>&1 && touch '$RES/pack-$1.done'"
}

if [ "$PACK_ONLY" = 1 ]; then
  # One detached chain, stage after stage (each needs the one before); every unfinished stage's
  # pid file names the chain, so a later call waits on it stage by stage.
  todo="" chain=""
  for stage in $stages; do
    [ -f "$RES/pack-$stage.done" ] && continue
    if alive "$RES/pack-$stage.pid"; then log "pack stage $stage already running (pid $(cat "$RES/pack-$stage.pid"))"; exit 0; fi
    todo="$todo $stage"
    chain="$chain$(stage_cmd "$stage") || exit 1; "
  done
  if [ -z "$todo" ]; then log "pack already made: $WORK/pack"; exit 0; fi
  setsid bash -c "$chain" < /dev/null > /dev/null 2>&1 &
  for stage in $todo; do echo $! > "$RES/pack-$stage.pid"; done
  log "pack stages started detached, one after another (pid $!):$todo; logs in $RES/make_pack_<stage>.log"
  exit 0
fi

for stage in $stages; do
  done_f=$RES/pack-$stage.done
  pid_f=$RES/pack-$stage.pid
  [ -f "$done_f" ] && continue
  if alive "$pid_f"; then
    log "make_sd15_pack --stage $stage: still running from an earlier call, waiting"
  else
    log "make_sd15_pack --stage $stage"
    setsid bash -c "$(stage_cmd "$stage")" < /dev/null > /dev/null 2>&1 &
    echo $! > "$pid_f"
  fi
  while [ ! -f "$done_f" ] && kill -0 "$(cat "$pid_f")" 2>/dev/null && [ "$(left)" -gt 5 ]; do sleep 3; done
  grep -v '^\s' "$RES/make_pack_$stage.log" 2>/dev/null | tail -n 6 | tee -a "$OUT/run.log"
  if [ ! -f "$done_f" ]; then
    if kill -0 "$(cat "$pid_f")" 2>/dev/null; then log "pack stage $stage still running: call this script again"
    else log "pack stage $stage FAILED: see make_pack_$stage.log"; fi
    exit 1
  fi
done

# --- 3. PyTorch CUDA fp16 -------------------------------------------------------------------------
if ! grep -q '"complete": true' "$RES/torch.json" 2>/dev/null && [ "$(left)" -gt 60 ]; then
  log "torch_bench"
  timeout "$(left)" python3 -W ignore bench/gpu/torch_bench.py --src "$WORK/sd-folder" --json "$RES/torch.json" \
    --cuda-graph --runs "$RUNS" --steps "$STEPS" > "$RES/torch.log" 2>&1
  tail -n 25 "$RES/torch.log" | tee -a "$OUT/run.log"
fi

# --- 4. onnxruntime-web WebGPU, fp16 (whole images) then fp32 (per call) ------------------------
# Dawn ignores CUDA_VISIBLE_DEVICES and node.js's process may be invisible to nvidia-smi in a
# container, so the card it used shows as the one whose memory rose during the run.
gpu_watch() {  # name: nvidia-smi 10 s and 60 s into an ORT run, into $RES/name.smi
  local name=$1 b d
  command -v nvidia-smi > /dev/null || return 0
  b=$(gpu_table)
  sleep 10; { echo "--- nvidia-smi 10 s into $name"; nvidia-smi; } > "$RES/$name.smi" 2>&1
  sleep 50; d=$(gpu_table)
  { echo "--- nvidia-smi 60 s into $name"; nvidia-smi
    echo "--- memory.used since $name started:"
    awk -F', *' 'NR==FNR { m[$1] = $3 + 0; next }
      { x = $3 - m[$1]; printf "GPU %s (%s): %+d MiB\n", $1, $2, x; if (x > best) { best = x; g = $1 } }
      END { if (g != "") print "largest rise: GPU " g " (where Dawn most likely runs)" }' <(echo "$b") <(echo "$d")
  } >> "$RES/$name.smi" 2>&1
}

run_ort() {  # name, then ort_bench arguments
  local name=$1; shift
  if grep -q '"complete": true' "$RES/$name.json" 2>/dev/null; then return; fi
  if [ "$(left)" -lt 90 ]; then log "skipping $name: $(left) s left, run again"; return; fi
  log "$name"
  # The bench ends itself with SIGKILL (Node stalls 30-40 s at exit after ORT): hide the shell's notice.
  rm -f "$RES/$name.smi"
  gpu_watch "$name" & local watch=$!
  # --time-left: only the --profile stage reads it (skips itself when it cannot finish in time).
  ( timeout "$(left)" "$WORK/node" bench/gpu/ort_bench.mjs --pack "$WORK/pack" --json "$RES/$name.json" \
    --ep "$EP" --runs "$RUNS" --steps "$STEPS" --time-left "$(left)" "$@" > "$RES/$name.log" 2>&1; true ) 2>/dev/null
  kill "$watch" 2>/dev/null; wait "$watch" 2>/dev/null
  grep -v '^\s*at ' "$RES/$name.log" | tail -n 25 | tee -a "$OUT/run.log"
  cat "$RES/$name.smi" >> "$OUT/run.log" 2>/dev/null || true  # no nvidia-smi on a CPU dry run
}
profile_args=()
[ "$PROFILE" = 1 ] && profile_args=(--profile --profile-trace "$RES/ort_webgpu_fp16.profile.json.gz")
run_ort ort_webgpu_fp16 --precision fp16 --graph-capture "${profile_args[@]}"
# Another onnxruntime-web release (prepare_carry.sh --ort-alt VERSION), fp16, on the same pack and
# card: the app's calls, one reference, no baseline.
if [ -f "$CARRY/ort-alt.tar.xz" ] && [ "$PACK_ONLY" != 1 ]; then
  [ -f "$WORK/ort-alt/onnxruntime-web/dist/ort.webgpu.min.mjs" ] || \
    python3 -c "import tarfile; tarfile.open('$CARRY/ort-alt.tar.xz').extractall('$WORK/ort-alt')"
  run_ort ort_alt_webgpu_fp16 --precision fp16 --graph-capture --refs 1 --no-baseline \
    --ort-dir "$WORK/ort-alt/onnxruntime-web"
fi
run_ort ort_webgpu_fp32 --precision fp32 --refs 1 --no-baseline --steps 5
# A profile the fp16 run did not produce (complete before PROFILE=1, or skipped for time).
profiled() { python3 -c "import json, sys; p = json.load(open(sys.argv[1])).get('profile_unet_b2') or {}; \
sys.exit(0 if 'gpuKernelMsPerCall' in p or 'WebGPU-only' in p.get('skipped', '') else 1)" "$1" 2>/dev/null; }
if [ "$PROFILE" = 1 ] && ! profiled "$RES/ort_webgpu_fp16.json"; then
  run_ort ort_webgpu_fp16_profile --precision fp16 --profile-only --profile-trace "$RES/ort_webgpu_fp16_profile.profile.json.gz"
fi
