#!/usr/bin/env bash
# The whole GPU benchmark on the CUDA box, in one command from the repository root:
#   bash bench/gpu/run_on_box.sh          (carry: .carry/gpu-bench, built by prepare_carry.sh)
# Unpacks Node, the JS packages and the Vulkan loader; makes the random SD 1.5 pack (fp32 +
# fp16) through the converter; runs torch_bench.py (CUDA fp16) and ort_bench.mjs (onnxruntime-web
# WebGPU via Dawn, fp16 then fp32); writes bench.json + bench.md (+ logs) to $OUT.
# Resumable: work lives in .carry/gpu-work (ignored, kept on a warm machine) and finished stages
# are skipped, so a call cut off by the 10-minute limit is simply repeated.
# Env: BUDGET_S (default 570: seconds this call may use), STEPS (50), RUNS (10); for a CPU dry
# run of the same script: PRESET=small EP=wasm FP16_GRAPH=0.
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
START=$(date +%s)
left() { local l=$((BUDGET - ($(date +%s) - START))); [ "$l" -lt 1 ] && l=1; echo "$l"; }  # timeout 0 = no limit
RES=$WORK/results
mkdir -p "$WORK" "$OUT" "$RES"
log() { echo "[$(( $(date +%s) - START ))s] $*" | tee -a "$OUT/run.log"; }

finish() {
  cp -f "$RES"/*.json "$RES"/*.log "$OUT"/ 2>/dev/null
  python3 bench/gpu/report.py "$OUT" "$RES/torch.json" "$RES/ort_webgpu_fp16.json" "$RES/ort_webgpu_fp32.json" \
    > /dev/null 2>>"$OUT/run.log" && log "wrote $OUT/bench.md and bench.json"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >> "$OUT/run.log" 2>/dev/null
}
trap finish EXIT

# --- 1. unpack the carry (once per machine) ---------------------------------------------------
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

# --- 2. the pack: random SD 1.5 weights → diffusers folder → converter → pack ------------------
# Three steps, each resumable. The fp32 export of the 3.4 GB U-Net alone takes minutes, so each
# step runs detached (setsid): if this call's time runs out, the step keeps going on the warm
# machine and the next call of this script waits for it instead of starting over.
stages="weights fp32"
[ "$FP16_GRAPH" = 1 ] && stages="$stages fp16"
for stage in $stages; do
  done_f=$RES/pack-$stage.done
  pid_f=$RES/pack-$stage.pid
  [ -f "$done_f" ] && continue
  if [ -f "$pid_f" ] && kill -0 "$(cat "$pid_f")" 2>/dev/null; then
    log "make_sd15_pack --stage $stage: still running from an earlier call, waiting"
  else
    log "make_sd15_pack --stage $stage"
    setsid bash -c "python3 -W ignore bench/gpu/make_sd15_pack.py --work '$WORK' --preset '$PRESET' --stage $stage \
      > '$RES/make_pack_$stage.log' 2>&1 && touch '$done_f'" < /dev/null > /dev/null 2>&1 &
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
run_ort() {  # name, then ort_bench arguments
  local name=$1; shift
  if grep -q '"complete": true' "$RES/$name.json" 2>/dev/null; then return; fi
  if [ "$(left)" -lt 90 ]; then log "skipping $name: $(left) s left, run again"; return; fi
  log "$name"
  # The bench ends itself with SIGKILL (Node stalls 30-40 s at exit after ORT): hide the shell's notice.
  ( timeout "$(left)" "$WORK/node" bench/gpu/ort_bench.mjs --pack "$WORK/pack" --json "$RES/$name.json" \
    --ep "$EP" --runs "$RUNS" --steps "$STEPS" "$@" > "$RES/$name.log" 2>&1; true ) 2>/dev/null
  grep -v '^\s*at ' "$RES/$name.log" | tail -n 25 | tee -a "$OUT/run.log"
}
run_ort ort_webgpu_fp16 --precision fp16 --graph-capture
run_ort ort_webgpu_fp32 --precision fp32 --refs 1 --no-baseline --steps 5
