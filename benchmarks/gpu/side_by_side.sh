#!/usr/bin/env bash
# One GPU, side by side: cnncost's speedrun against airbench94, and predicted against measured
# step time and training-step memory. Prepare here first: `bash benchmarks/gpu/prepare.sh`.
#
#   bash benchmarks/gpu/side_by_side.sh [--smoke] [STAGE ...]
#
# Stages (default: setup race profile memory goals, sized for one call of at most 8 minutes):
#   stage1   copy .gpu1/part-1.npz to /root/c10 (the first call's carry; see ../shared/data/README.md)
#   setup    device facts; CIFAR-10 rebuilt in $DATA from /root/c10 + .gpu2/part-2.npz; airbench
#            installed from the carried .gpu2/airbench-*.tar.gz into /tmp/site (no registry there)
#   race     benchmarks/gpu/race.py: airbench94 and `speedrun --recipe fast` alternately, at most
#            $RUNS pairs within $RACE_BUDGET_S wall seconds, each run timed by its own clock
#   profile  `cnncost-train profile --zoo` and per layer for $LAYER_MODELS: predicted vs measured
#   memory   benchmarks/gpu/memory_check.py: predicted peak vs torch.cuda.max_memory_allocated
#   goals    benchmarks/gpu/goals.py: one line per goal, printed last
# Device calls (15 minutes a session, 10 a call; the machine stays warm 30 s between calls). The
# times are estimates from the H100 speedrun's 3.5 s per run, not measurements of this script:
#   call 1, carry [".gpu1"], timeout_s 300: bash benchmarks/gpu/side_by_side.sh stage1 profile memory
#   call 2, carry [".gpu2"], at once, timeout_s 540:
#           RACE_BUDGET_S=380 bash benchmarks/gpu/side_by_side.sh setup race goals
#   (about 8 s a pair: 50 pairs need about 400 s of race; fewer fit if the start is slow)
# or everything in call 2 after a bare `stage1` call 1: bash benchmarks/gpu/side_by_side.sh
# Results under $RES; $OUT gets goals.txt, log.txt, the plots and results.tgz (everything).
# --smoke: CPU, toy sizes, no airbench and no data needed; every stage's path in seconds.
set -u
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SMOKE=0
[ "${1:-}" = "--smoke" ] && { SMOKE=1; shift; }
STAGES=${*:-setup race profile memory goals}
[ $SMOKE = 1 ] && [ $# = 0 ] && STAGES="race profile memory goals"
OUT=${OUT:-$ROOT/runs/side-by-side-out}
RES=${RES:-$( [ $SMOKE = 1 ] && echo "$OUT/res" || echo /root/res )}
DATA=${DATA:-/root/data}
RUNS=${RUNS:-50}
RACE_BUDGET_S=${RACE_BUDGET_S:-210}
BATCH=${BATCH:-64}
MODELS=${MODELS:-"alexnet vgg19 googlenet resnet18 resnet50 resnet44 davidnet"}
LAYER_MODELS=${LAYER_MODELS:-$MODELS}
PY=${PY:-python3}
SM="" PROF=""
if [ $SMOKE = 1 ]; then
  SM="--smoke"; RUNS=2; MODELS="lenet5 resnet20"; LAYER_MODELS="lenet5"; BATCH=2
  PROF="--threads 1 --repeats 1 --warmup 0"
fi
export PYTHONUNBUFFERED=1 PYTHONPATH="/tmp/site:$ROOT${PYTHONPATH:+:$PYTHONPATH}" CNNCOST_DATA=$DATA
[ $SMOKE = 1 ] && unset CNNCOST_DATA
mkdir -p "$RES" "$OUT"
LOG=$OUT/log.txt
CLI="$PY -m cnncost_train.cli"
say() { echo "== $(date +%T) $*" | tee -a "$LOG"; }
run() { say "$*"; "$@" 2>&1 | tee -a "$LOG"; local rc=${PIPESTATUS[0]}; [ "$rc" = 0 ] || say "exit $rc: $1"; return 0; }
models_opt() { for m in $MODELS; do printf -- '--models %s ' "$m"; done; }

for stage in $STAGES; do
  case $stage in
    stage1)
      mkdir -p /root/c10 && cp .gpu1/part-1.npz /root/c10/ && say "part 1 staged in /root/c10"
      ;;
    setup)
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv 2>&1 | tee -a "$LOG"
      $PY -c "import torch; print('torch', torch.__version__, 'cuda', torch.version.cuda)" 2>&1 | tee -a "$LOG"
      if [ ! -f "$DATA/cifar-10-batches-py/test_batch" ]; then
        mkdir -p /root/c10 && cp .gpu2/part-2.npz /root/c10/ && run $PY .gpu2/cifar10_unpack.py "$DATA" /root/c10
      fi
      run $PY -m pip install -q --no-index --no-deps --no-build-isolation --target /tmp/site .gpu2/airbench-*.tar.gz
      $PY -c "import airbench" 2>/dev/null || { mkdir -p /tmp/site && tar xzf .gpu2/airbench-*.tar.gz -C /tmp \
        && cp -r /tmp/airbench-*/airbench /tmp/site/ && say "airbench unpacked into /tmp/site (pip failed)"; }
      ;;
    race)
      run timeout $((${RACE_BUDGET_S%.*} + 150)) $PY "$ROOT/benchmarks/gpu/race.py" $SM --out "$RES/race" \
        --runs "$RUNS" --budget-s "$RACE_BUDGET_S"
      ;;
    profile)
      run timeout 240 $CLI profile --zoo $(models_opt) --batch "$BATCH" --out "$RES/profile-zoo" $SM $PROF
      for m in $LAYER_MODELS; do
        run timeout 120 $CLI profile "$m" --batch "$BATCH" --out "$RES/profile-$m" $SM $PROF
      done
      ;;
    memory)
      run timeout 150 $PY "$ROOT/benchmarks/gpu/memory_check.py" $SM --out "$RES/memory" --batch "$BATCH" --models $MODELS
      ;;
    goals)
      $PY "$ROOT/benchmarks/gpu/goals.py" "$RES" > "$OUT/goals.txt" 2>&1
      ;;
    *) say "unknown stage $stage (stage1 setup race profile memory goals)"; exit 2 ;;
  esac
done
tar czf "$OUT/results.tgz" --exclude=checkpoints --exclude="*.pt" -C "$RES" . 2>/dev/null
for f in race/race.png profile-zoo/zoo_time_vs_flops.png; do [ -f "$RES/$f" ] && cp "$RES/$f" "$OUT/"; done
say "done: $(ls "$OUT" | tr '\n' ' ')"
[ -f "$OUT/goals.txt" ] && cat "$OUT/goals.txt"
exit 0
