#!/usr/bin/env bash
# Adapter recipes side by side on the GPU box (run from training/): every arm starts from the same
# adapters (AINIT, default $SHIPPED_ADAPTERS from gpu_env.sh, the shipped ones) on the shipped base, trains in its own
# folder $RUNS/arm-NAME (a rerun resumes it on a warm box), and is scored on the held-out DreamCache
# row with the committed judges, so recipes are compared at equal steps and equal judges.
#   bash scripts/gpu_adapter_arms.sh train MINUTES NAME="trainer args" …   (NAME alone: its stored args;
#        each arm's summary ends with its call's updates per minute, scripts/train_rate.py)
#   bash scripts/gpu_adapter_arms.sh bench MINUTES NAME … [-- extra bench args]
#   bash scripts/gpu_adapter_arms.sh best NAME …    prints the arm with the highest DINO-like whose
#                                                   CLIP-T stays ≥ 0.90 × text-only (needs a text row)
#   bash scripts/gpu_adapter_arms.sh restore NAME=FOLDER …   an arm committed from an earlier lease
#        (adapters.part*, adapters.json, args.txt, log.jsonl) becomes $RUNS/arm-NAME on a bare box:
#        bench scores it, train continues it from its own weights and step
#   bash scripts/gpu_adapter_arms.sh fork NEW=ARM …   a new arm from arm ARM's weights as they are now on the
#        box (its EMA, step, args and log): `train MINUTES ARM NEW="other args"` then tries another recipe
#        from that point beside it, on the same batches
# Bench: the first arm's run adds the text-only and ground-truth rows (gate 0 and the composites do not
# depend on the adapters); `best` measures every arm's gap against those. NAME "shipped" scores
# $SHIPPED_ADAPTERS (the shipped adapters) itself. Default protocol: 1 seed, 25 steps, sI $BSCALE
# (default 9, the pack's since tiny-emoji 0.17.0; sessions 13–24 scored their main rows at 8, the pack's
# then: BSCALE=8 compares with them; BSCALE=12 BSCALE_END=6 scores the main row with tiny-emoji 0.17.1's
# ramp), no ablations; each bench call starts clean unless BENCH_RESUME=1.
# Env: AINIT (arms not restored), ALR (4e-4), AGENERIC (0.95), ABATCH (256), BBATCH (512), BSCALE (9),
# BSCALE_END (none: constant sI).
# $OUT gets arms.tar (each arm's adapters.json, log.jsonl, weights) and benches.tar (bench.md/json).
set -uo pipefail
source scripts/gpu_env.sh
PHASE=${1:?train, bench or best}
shift
OUT=${OUT:-$RUNS/out}
mkdir -p "$OUT"

arm_dir() { echo "$RUNS/arm-$1"; }

# restore_arm NAME WEIGHTS META: arm NAME starts from WEIGHTS/adapters.part* with META's adapters.json,
# args.txt and log.jsonl; the trainer reads these weights before it writes its own there (a checkpoint,
# once made, wins)
restore_arm() {
  local name=$1 weights=$2 meta=$3 dir
  dir=$(arm_dir "$name"); rm -rf "$dir"; mkdir -p "$dir/weights"
  cp "$weights"/adapters.part* "$meta/adapters.json" "$dir/weights/" && cp "$meta/args.txt" "$meta/adapters.json" "$dir/" || exit 1
  [ -f "$meta/log.jsonl" ] && cp "$meta/log.jsonl" "$dir/"
  echo "$dir/weights" > "$dir/init.txt"
  echo "arm $name: $(cat "$dir/args.txt") from $weights, step $(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['step'])" "$meta/adapters.json")"
}

if [ "$PHASE" = train ]; then
  MIN=${1:?minutes}; shift
  BASE=${BASE:-$(shipped_weights)}
  port=29600 pids=() names=()
  for spec in "$@"; do
    name=${spec%%=*}
    [[ "$name" =~ ^[A-Za-z0-9_-]+$ ]] || { echo "arm name '$name': letters, digits, _ and - only" >&2; exit 2; }
    dir=$(arm_dir "$name"); mkdir -p "$dir"
    if [[ "$spec" == *=* ]]; then echo "${spec#*=}" > "$dir/args.txt"; fi
    [ -f "$dir/args.txt" ] || { echo "arm $name: no args given and none stored" >&2; exit 2; }
    port=$((port + 1))
    init=${AINIT:-$SHIPPED_ADAPTERS}
    [ -f "$dir/init.txt" ] && init=$(cat "$dir/init.txt")
    # shellcheck disable=SC2046
    torchrun --nnodes=1 --master_port=$port --nproc_per_node="$NGPU" -m dreamcache.train.adapters --webp "$WEBP" \
      --base "$BASE" --out "$dir" --minutes "$MIN" --batch "${ABATCH:-256}" --lr "${ALR:-4e-4}" \
      --init-from "$init" --generic-name "${AGENERIC:-0.95}" \
      $(cat "$dir/args.txt") > "$dir/train.out" 2>&1 &
    pids+=($!) names+=("$name")
  done
  rc=0
  for p in "${pids[@]}"; do wait "$p" || rc=1; done
  for name in "${names[@]}"; do
    dir=$(arm_dir "$name")
    echo "== arm $name: $(cat "$dir/args.txt")"
    grep -v Warn "$dir/train.out" | grep -E '"start"|"done"|Error|Traceback' | cut -c1-400
    grep '"loss_ref"' "$dir/log.jsonl" | tail -3 | cut -c1-300
    python3 scripts/train_rate.py "$dir/log.jsonl" --last 1 | tail -1
  done
  (cd "$RUNS" && tar -cf "$OUT/arms.tar" $(for n in "${names[@]}"; do
     echo "arm-$n/adapters.json arm-$n/log.jsonl arm-$n/args.txt arm-$n/weights"; done))
  ls -la "$OUT"; exit $rc
elif [ "$PHASE" = bench ]; then
  MIN=${1:?minutes}; shift
  BASE=${BASE:-$(shipped_weights)}
  names=()
  while [ $# -gt 0 ] && [ "$1" != -- ]; do names+=("$1"); shift; done
  [ "${1:-}" = -- ] && shift
  first=1
  for name in "${names[@]}"; do
    dir=$(arm_dir "$name")
    if [ "$name" = shipped ]; then w=$SHIPPED_ADAPTERS; else w=$dir/weights; fi
    rows=dreamcache; [ $first = 1 ] && rows=text,dreamcache,gt
    fresh_bench "$RUNS/bench-arm-$name"     # an arm's earlier weights' records must not mix in
    trun -m dreamcache.eval.bench --weights "$BASE" --adapters "$w" --evaluators "$(judges)" --webp "$WEBP" \
      --out "$RUNS/bench-arm-$name" --minutes "$MIN" --batch "${BBATCH:-512}" --seeds 1 --steps 25 --image-scale "${BSCALE:-9}" \
      ${BSCALE_END:+--image-scale-end "$BSCALE_END"} --ablations none --grid-subjects 0 --rows "$rows" "$@" 2>&1 | grep -v Warn | grep -E '^\| |gap|Error|Traceback' | cut -c1-300
    first=0
  done
  (cd "$RUNS" && tar -cf "$OUT/benches.tar" $(for n in "${names[@]}"; do echo "bench-arm-$n/bench.md bench-arm-$n/bench.json"; done))
  ls -la "$OUT"
elif [ "$PHASE" = restore ]; then
  for spec in "$@"; do
    name=${spec%%=*} src=${spec#*=}
    [[ "$spec" == *=* && -f "$src/adapters.json" && -f "$src/args.txt" ]] && compgen -G "$src/adapters.part*" > /dev/null \
      || { echo "restore: '$spec' is not NAME=FOLDER with adapters.part*, adapters.json and args.txt" >&2; exit 2; }
    restore_arm "$name" "$src" "$src"
  done
elif [ "$PHASE" = fork ]; then
  for spec in "$@"; do
    new=${spec%%=*} old=${spec#*=} src=$(arm_dir "${spec#*=}")
    [[ "$spec" == *=* && "$new" =~ ^[A-Za-z0-9_-]+$ && "$new" != "$old" && -f "$src/args.txt" ]] \
      && compgen -G "$src/weights/adapters.part*" > /dev/null \
      || { echo "fork: '$spec' is not NEW=ARM with ARM an arm that has trained on this box" >&2; exit 2; }
    restore_arm "$new" "$src/weights" "$src"
  done
elif [ "$PHASE" = best ]; then
  python3 - "$RUNS" "$@" <<'EOF'
import json, sys
runs, names = sys.argv[1], sys.argv[2:]
res = {n: json.load(open(f"{runs}/bench-arm-{n}/bench.json"))["results"] for n in names}
first = json.load(open(f"{runs}/bench-arm-{names[0]}/bench.json"))["results"]
text, gt = first["text-only"], first["ground truth"]
for n, r in res.items():
    d = r["DreamCache"]
    print(f"{n}: DINO-like {d['dino']:.4f}, gap {(d['dino'] - text['dino']) / (gt['dino'] - text['dino']):.4f}, "
          f"CLIP-T {d['clip_t'] / text['clip_t']:.4f} x text-only", file=sys.stderr)
ok = [(r["DreamCache"]["dino"], n) for n, r in res.items() if r["DreamCache"]["clip_t"] >= 0.9 * text["clip_t"]]
print(max(ok)[1] if ok else names[0])
EOF
else
  echo "unknown phase $PHASE (train | bench | best | restore)"; exit 2
fi
