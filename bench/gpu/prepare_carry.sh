#!/usr/bin/env bash
# Builds, on this (CPU) machine, what the GPU benchmark needs on the CUDA box and cannot get
# there (no network, no Node.js, no Vulkan loader): .carry/gpu-bench/ (git-ignored), ~31 MB.
#   node.xz                 this machine's node binary, stripped (the box unpacks it with Python's lzma)
#   node_modules.tar.xz     webgpu (dawn.node) + onnxruntime-web's native-WebGPU bundle and wasm
#   debs/*.deb              Vulkan loader + GL dispatch libs (libvulkan1 alone fails with
#                           VK_ERROR_INCOMPATIBLE_DRIVER: see /work/shared/notes/gpu-box.md)
#   code.tar.xz             training/dreamcache + bench/gpu + the embedded segmenter, in case the
#                           box's checkout lacks them (run_on_box.sh prefers the checkout)
#   ort-alt.tar.xz          (--ort-alt VERSION) another onnxruntime-web release's native-WebGPU
#                           bundle and wasm, from the npm registry: run_on_box.sh times it too
# Usage: bash bench/gpu/prepare_carry.sh [--with-jsep] [--ort-alt VERSION]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
OUT=$ROOT/.carry/gpu-bench
LIMIT=$((40 * 1000 * 1000))
cd "$ROOT"
for f in node_modules/webgpu/dist/linux-x64/dawn.node node_modules/onnxruntime-web/dist/ort.webgpu.min.mjs; do
  [ -f "$f" ] || { echo "missing $f: run npm install first" >&2; exit 1; }
done
mkdir -p "$OUT"
find "$OUT" -mindepth 1 -maxdepth 1 ! -name node.xz -exec rm -rf {} +
mkdir -p "$OUT/debs"

# Compressing node takes minutes: keep an earlier node.xz made from the same binary (the stamp
# beside the carry, not in it, names that binary). Stripped: this node ships symbols and debug
# info (12 MB, 2 MB compressed) that nothing on the box uses; .dynsym, which addons such as
# dawn.node link against, stays.
NODE=$(command -v node)
STAMP=$ROOT/.carry/gpu-bench.node-stamp
want="$(sha256sum "$NODE" | cut -d' ' -f1) stripped"
if [ ! -f "$OUT/node.xz" ] || [ "$(cat "$STAMP" 2>/dev/null)" != "$want" ]; then
  tmp=$(mktemp)
  strip --strip-all -o "$tmp" "$NODE" 2>/dev/null || cp "$NODE" "$tmp"
  "$tmp" --version > /dev/null  # the stripped copy must still run
  xz -T2 -9 -c "$tmp" > "$OUT/node.xz.tmp" && mv "$OUT/node.xz.tmp" "$OUT/node.xz" && echo "$want" > "$STAMP"
  rm -f "$tmp"
fi

ORT=node_modules/onnxruntime-web
files=(node_modules/webgpu/package.json node_modules/webgpu/index.js node_modules/webgpu/dist/linux-x64/dawn.node
       "$ORT/package.json" "$ORT/dist/ort.webgpu.min.mjs"
       "$ORT/dist/ort-wasm-simd-threaded.asyncify.mjs" "$ORT/dist/ort-wasm-simd-threaded.asyncify.wasm"
       # the wasm build Node resolves for `import 'onnxruntime-web'`: the Python ONNX parity tests
       # (training/tests/onnx_run.mjs) run on the box with the carried node too
       "$ORT/dist/ort.node.min.mjs" "$ORT/dist/ort-wasm-simd-threaded.mjs" "$ORT/dist/ort-wasm-simd-threaded.wasm")
JSEP=0 ORT_ALT=
while [ $# -gt 0 ]; do
  case $1 in
    --with-jsep) JSEP=1 ;;
    --ort-alt) ORT_ALT=${2:?--ort-alt needs a version}; shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
  shift
done
if [ "$JSEP" = 1 ]; then
  files+=("$ORT/dist/ort.min.mjs" "$ORT/dist/ort-wasm-simd-threaded.jsep.mjs" "$ORT/dist/ort-wasm-simd-threaded.jsep.wasm")
fi
files+=(node_modules/onnxruntime-common/package.json node_modules/onnxruntime-common/dist/esm)
tar -cf - "${files[@]}" | xz -T2 -9 > "$OUT/node_modules.tar.xz"

if [ -n "$ORT_ALT" ]; then
  tmp=$(mktemp -d)
  (cd "$tmp" && npm pack -q "onnxruntime-web@$ORT_ALT" > /dev/null && tar -xzf onnxruntime-web-*.tgz && mv package onnxruntime-web)
  tar -C "$tmp" -cf - onnxruntime-web/package.json onnxruntime-web/dist/ort.webgpu.min.mjs \
    onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.mjs onnxruntime-web/dist/ort-wasm-simd-threaded.asyncify.wasm \
    | xz -T2 -9 > "$OUT/ort-alt.tar.xz"
  rm -rf "$tmp"
fi

(cd "$OUT/debs" && apt-get -q -oAPT::Architecture=amd64 download \
  libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null)

tar --exclude=__pycache__ -cf - training/dreamcache bench/gpu public/models/dev-tiny/manifest.json \
  public/models/dev-tiny/segmenter.onnx | xz -T2 -9 > "$OUT/code.tar.xz"

(cd "$OUT" && sha256sum node.xz node_modules.tar.xz code.tar.xz $(ls ort-alt.tar.xz 2>/dev/null) debs/*.deb > SHA256SUMS)
total=$(du -sb "$OUT" | cut -f1)
ls -l "$OUT" "$OUT/debs"
echo "total $total bytes in $OUT"
if [ "$total" -gt "$LIMIT" ]; then
  echo "carry is over 40 MB" >&2
  exit 1
fi
