#!/usr/bin/env bash
# Segmenter v2 on the GPU box (run from training/): fine-tunes the committed segmenter with generic
# background distractors (dreamcache/data/distractors.py) into $RUNS/seg-v2, resumable (a rerun
# continues from $RUNS/seg-v2/ckpt; --init-from only applies to a fresh run), then packs
# segmenter.json (with per-held-out-scene IoU) + log.jsonl + weights parts into ONE tar: $OUT/seg-v2.tar.
# Usage: [CUDA_VISIBLE_DEVICES=0] [NGPU=1] bash scripts/gpu_segmenter.sh MINUTES [BATCH] [extra trainer args]
# Env: BASE (init weights folder), DISTRACTORS (share, default 0.5), LR (3e-4), SEG_PORT (29531),
# SEG_CHANNELS (e.g. 24,48,96,144: a wider net; a fresh run in $RUNS/seg-v2-c24-48-96-144 -> seg-v2-c24-48-96-144.tar,
# initialised from BASE only when BASE's segmenter.json records the same channels).
# Extra trainer args after BATCH, e.g. `--mix-scenes 0.5` (two training scenes per background, segmenter v3).
set -uo pipefail
WANT_NGPU=${NGPU:-}
source scripts/gpu_env.sh                       # sets NGPU from the visible devices
NGPU=${WANT_NGPU:-$NGPU}
BASE=${BASE:-$PWD/checkpoints/tiny-emoji-v1}
OUT=${OUT:-$RUNS/out}
SEG_CHANNELS=${SEG_CHANNELS:-}
SEG_CHANNELS=${SEG_CHANNELS// /}
TAG=seg-v2${SEG_CHANNELS:+-c${SEG_CHANNELS//,/-}}
RUN=$RUNS/$TAG
INIT=(--init-from "$BASE")
if [ -n "$SEG_CHANNELS" ]; then
  # segmenter.json beside the parts, or one folder up for a run's weights/ folder
  J="$BASE/segmenter.json"; [ -f "$J" ] || J="$(dirname "$BASE")/segmenter.json"
  BASE_CHANNELS=$(python3 -c 'import json, sys; print(",".join(map(str, json.load(open(sys.argv[1]))["config"]["channels"])))' \
    "$J" 2>/dev/null)
  if [ "$BASE_CHANNELS" != "$SEG_CHANNELS" ]; then
    echo "SEG_CHANNELS=$SEG_CHANNELS vs BASE's ${BASE_CHANNELS:-unrecorded}: fresh run, no --init-from" >&2
    INIT=()
  fi
fi
mkdir -p "$RUN" "$OUT"
rm -f "$RUN/segmenter.json"                     # written only by a finished run
# not --standalone: other torchrun jobs share the box, so each needs its own rendezvous port
torchrun --nnodes=1 --master_port="${SEG_PORT:-29531}" --nproc_per_node="$NGPU" -m dreamcache.train.segmenter \
  --webp "$WEBP" --out "$RUN" ${INIT[@]+"${INIT[@]}"} ${SEG_CHANNELS:+--channels "$SEG_CHANNELS"} --minutes "${1:-10}" --batch "${2:-64}" \
  --lr "${LR:-3e-4}" --distractors "${DISTRACTORS:-0.5}" --seed 1 "${@:3}" 2>&1 | tee -a "$RUN/train.out" \
  | grep -v Warn | awk '/"step"/{n++; if (n%10==1) print; next} /done|start|Error|error/'
[ -f "$RUN/segmenter.json" ] || { echo "segmenter run failed: see $RUN/train.out" >&2; exit 1; }
tar -cf "$OUT/$TAG.tar" -C "$RUN" segmenter.json log.jsonl $(cd "$RUN" && ls weights/segmenter.part*)
cat "$RUN/segmenter.json" | grep -v '^  *[0-9]*,*$'
ls -la "$OUT/$TAG.tar"
