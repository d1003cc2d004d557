#!/usr/bin/env bash
# The studies at the homework's size on one GPU, in stages sized to the device's time (10 minutes a
# call, 15 a session, one chip; keep one rerun's worth). Prepare here first: benchmarks/gpu/prepare.sh.
#
#   bash benchmarks/gpu/studies.sh [--smoke] STAGE ...
#
# Every study stage runs under `timeout -s TERM` ($<STAGE>_S seconds): the command saves its
# checkpoint on SIGTERM and the same stage continues it (--resume) in a later call on the same warm
# machine. A new session starts bare: copy the last call's results.tgz to .gpu-res/ and carry it; it
# is unpacked into $RES first, so finished runs are kept (results.tgz holds no checkpoints, which
# are too large to bring back: an unfinished run starts again). Results under $RES/<study>; $OUT
# gets log.txt, results.tgz (all but checkpoints) and up to six plots.
#   stage1         copy .gpu1/part-1.npz to /root/c10 (CIFAR-10's first half; its own call)
#   cifar          rebuild CIFAR-10 in $DATA from /root/c10 + .gpu2/part-2.npz
#   fmnist         copy .gpu3/*.gz (Fashion-MNIST) to $FMNIST
#   optimizers     five adaptive optimisers +- dropout, MLP 3072-1000-1000-10, $OPT_EPOCHS epochs (200); the
#                  ten runs go one after another in one process (not batched into one model)
#   lr-range       MiniGoogLeNet on Fashion-MNIST: $LR_N rates, Smith's range test
#   clr            cyclical learning rate to a validation plateau (cap $CLR_MAX_EPOCHS, default 100)
#   batch-range    batch-size range test at lr_min
#   cbs            cyclical batch size (cap $CBS_MAX_EPOCHS, default 100)
#   eggholder      depth x width sweep, $EGG_EPOCHS epochs (2000) at batch 1000
#   batch-augment  ResNet-44 + cutout, M in $BA_M, capped at $BA_EPOCHS epochs each (the command's own
#                  default stays the homework's 100); --time-budget $BATCH_AUGMENT_S per call
# Planned sessions. The stage limits make each study call about 6.5 minutes at most, so that after a
# machine start (1-2 min) and the short stage1 call a second call of the same size (a rerun, or the
# continuation) still fits the session's 15 minutes. No GPU has run this script yet: how far each
# study gets per call is unknown until it has.
#   A: call 1 carry [".gpu1"]: `studies.sh stage1`; call 2 carry [".gpu2"] (timeout_s 420):
#      `studies.sh cifar optimizers`
#   B: the same, call 2 (timeout_s 480): `studies.sh cifar batch-augment eggholder`
#   C: one call carry [".gpu3"] (timeout_s 420): `studies.sh fmnist lr-range clr batch-range cbs`
#   later sessions: the same calls carrying also [".gpu-res"] (the last results.tgz) to continue.
# --smoke: CPU, each command's own --smoke (toy data, one epoch), every stage's path.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SMOKE=0
[ "${1:-}" = "--smoke" ] && { SMOKE=1; shift; }
STAGES=${*:-}
[ $SMOKE = 1 ] && [ -z "$STAGES" ] && STAGES="optimizers lr-range clr batch-range cbs eggholder batch-augment"
[ -z "$STAGES" ] && { echo "error: name the stages (see the header of $0)" >&2; exit 2; }
OUT=${OUT:-$ROOT/runs/studies-out}
RES=${RES:-$( [ $SMOKE = 1 ] && echo "$OUT/res" || echo /root/res )}
DATA=${DATA:-/root/data}
FMNIST=${FMNIST:-/root/fmnist}
PY=${PY:-python3}
OPT_EPOCHS=${OPT_EPOCHS:-200}; OPTIMIZERS_S=${OPTIMIZERS_S:-360}
LR_N=${LR_N:-10}; LR_RANGE_S=${LR_RANGE_S:-100}
CLR_MAX_EPOCHS=${CLR_MAX_EPOCHS:-100}; CLR_S=${CLR_S:-100}
BATCH_RANGE_S=${BATCH_RANGE_S:-80}
CBS_MAX_EPOCHS=${CBS_MAX_EPOCHS:-100}; CBS_S=${CBS_S:-80}
EGG_EPOCHS=${EGG_EPOCHS:-2000}; EGG_BATCH="--batch 1000"; EGGHOLDER_S=${EGGHOLDER_S:-120}
BA_M=${BA_M:-"2 4 8 16 32"}; BA_EPOCHS=${BA_EPOCHS:-3}; BATCH_AUGMENT_S=${BATCH_AUGMENT_S:-240}
SM="" FM="--data-dir $FMNIST" CD="--data-dir $DATA" CBS_SMOKE=""
if [ $SMOKE = 1 ]; then
  SM="--smoke"; FM=""; CD=""; OPT_EPOCHS=1; LR_N=3; CLR_MAX_EPOCHS=1; CBS_MAX_EPOCHS=1; EGG_EPOCHS=2; EGG_BATCH=""
  BA_M="2"; BA_EPOCHS=1
  CBS_SMOKE="--b-min 16 --b-max 64"      # batch-range's smoke picks can exceed the 205 smoke images
fi
export PYTHONUNBUFFERED=1 PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
mkdir -p "$RES" "$OUT"
LOG=$OUT/log.txt
CARRIED=${CARRIED:-.gpu-res/results.tgz}
if [ $SMOKE = 0 ] && [ -f "$CARRIED" ]; then
  tar xzf "$CARRIED" -C "$RES" && echo "== restored earlier results from $CARRIED" | tee -a "$LOG"
fi
CLI="$PY -m cnncost_train.cli"
say() { echo "== $(date +%T) $*" | tee -a "$LOG"; }
# study NAME SECONDS ARGS...: one command under a TERM timeout; exit 124/130 = stopped, resumable
study() {
  local name=$1 secs=$2; shift 2
  say "$name (at most ${secs} s): $*"
  local t0=$SECONDS
  timeout -s TERM -k 30 "$secs" $CLI "$@" --out "$RES/$name" $SM --resume 2>&1 | tee -a "$LOG"
  local rc=${PIPESTATUS[0]}
  echo "{\"stage\": \"$name\", \"exit\": $rc, \"wall_s\": $((SECONDS - t0)), \"smoke\": $SMOKE}" >> "$RES/stages.jsonl"
  case $rc in 0) ;; 124|130|143) say "$name stopped at its time limit: run the stage again to continue" ;;
    *) say "$name failed (exit $rc)" ;; esac
}
ms() { for m in $BA_M; do printf -- '--m %s ' "$m"; done; }

for stage in $STAGES; do
  case $stage in
    stage1) mkdir -p /root/c10 && cp .gpu1/part-1.npz /root/c10/ && say "part 1 staged in /root/c10" ;;
    cifar)
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$LOG"
      [ -f "$DATA/cifar-10-batches-py/test_batch" ] || { mkdir -p /root/c10 && cp .gpu2/part-2.npz /root/c10/ \
        && $PY .gpu2/cifar10_unpack.py "$DATA" /root/c10 2>&1 | tee -a "$LOG"; } ;;
    fmnist)
      nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv 2>&1 | tee -a "$LOG"
      mkdir -p "$FMNIST" && cp .gpu3/*-ubyte.gz "$FMNIST/" && say "Fashion-MNIST in $FMNIST" ;;
    optimizers) study optimizers "$OPTIMIZERS_S" optimizers --epochs "$OPT_EPOCHS" $CD ;;
    lr-range) study lr-range "$LR_RANGE_S" lr-range --n "$LR_N" $FM ;;
    clr) study clr "$CLR_S" clr --max-epochs "$CLR_MAX_EPOCHS" --lr-range-dir "$RES/lr-range" $FM ;;
    batch-range) study batch-range "$BATCH_RANGE_S" batch-range --lr-range-dir "$RES/lr-range" $FM ;;
    cbs) study cbs "$CBS_S" cbs --max-epochs "$CBS_MAX_EPOCHS" --batch-range-dir "$RES/batch-range" \
           --clr-dir "$RES/clr" $FM $CBS_SMOKE ;;
    eggholder) study eggholder "$EGGHOLDER_S" eggholder --epochs "$EGG_EPOCHS" $EGG_BATCH ;;
    batch-augment) study batch-augment "$((BATCH_AUGMENT_S + 60))" batch-augment $(ms) --epochs "$BA_EPOCHS" \
                     --time-budget "$BATCH_AUGMENT_S" $CD ;;
    *) say "unknown stage $stage"; exit 2 ;;
  esac
done
tar czf "$OUT/results.tgz" --exclude=checkpoints --exclude="*.pt" -C "$RES" . 2>/dev/null
n=0
for f in $(ls "$RES"/*/*.png 2>/dev/null); do
  [ $n -lt 6 ] || break
  cp "$f" "$OUT/$(basename "$(dirname "$f")")-$(basename "$f")" && n=$((n + 1))
done
say "done: $(ls "$OUT" | tr '\n' ' ')"
cat "$RES/stages.jsonl" 2>/dev/null
exit 0
