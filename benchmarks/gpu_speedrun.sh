#!/usr/bin/env bash
# GPU measurements of `cnncost-train speedrun`, in stages, one call of the device tool each:
#
#   bash benchmarks/gpu_speedrun.sh setup smoke sweep davidnet   # call 2 (after the data's part 1)
#   bash benchmarks/gpu_speedrun.sh final                         # call 3, machine still warm
#
# setup    unpack CIFAR-10 (.gpu2/, see ../shared/data/README.md) to $DATA unless there, install the package
# smoke    --smoke on the GPU (no compile): every path once
# sweep    --recipe fast at each of $SWEEP_EPOCHS, $SWEEP_RUNS runs each; picks the fewest epochs whose mean
#          is >= $PICK_MARGIN and writes it to $RES/chosen_epochs
# davidnet --recipe davidnet, $DAVID_RUNS runs
# final    --recipe fast, $FINAL_RUNS runs at the chosen epochs (or $EPOCHS)
#
# Results (JSON per run, CSV per run, summary.json per experiment) go to $RES; the last stage tars
# them into $OUT/results.tgz with the log, since only a few files come back from the device.
set -u
RES=${RES:-/root/res}
DATA=${DATA:-/root/data}
OUT=${OUT:-$RES/out}
SWEEP_EPOCHS=${SWEEP_EPOCHS:-"9.9 10.4 11"}
SWEEP_RUNS=${SWEEP_RUNS:-10}
PICK_MARGIN=${PICK_MARGIN:-94.08}
DAVID_RUNS=${DAVID_RUNS:-5}
FINAL_RUNS=${FINAL_RUNS:-50}
export PYTHONUNBUFFERED=1 CNNCOST_DATA=$DATA
mkdir -p "$RES" "$OUT"
LOG=$OUT/log.txt
CLI="python3 -m cnncost_train.cli"
say() { echo "== $(date +%T) $*" | tee -a "$LOG"; }
run() { say "$*"; "$@" 2>&1 | tee -a "$LOG"; return "${PIPESTATUS[0]}"; }

for stage in "$@"; do
  case $stage in
    setup)
      nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit --format=csv | tee -a "$LOG"
      python3 -c "import torch; print('torch', torch.__version__, torch.version.cuda)" | tee -a "$LOG"
      if [ ! -f "$DATA/cifar-10-batches-py/test_batch" ]; then
        mkdir -p /root/c10 && cp .gpu2/part-2.npz /root/c10/ && run python3 .gpu2/cifar10_unpack.py "$DATA" /root/c10
      fi
      pip install -q --no-deps --no-build-isolation -e . >>"$LOG" 2>&1 || say "pip install failed; using python -m"
      ;;
    smoke)
      run timeout 300 $CLI speedrun --smoke --device cuda --runs 2 --out "$RES/smoke"
      ;;
    sweep)
      for e in $SWEEP_EPOCHS; do
        run timeout 400 $CLI speedrun --recipe fast --epochs "$e" --runs "$SWEEP_RUNS" --out "$RES/sweep-$e"
      done
      python3 - "$RES" "$PICK_MARGIN" $SWEEP_EPOCHS <<'EOF' | tee -a "$LOG"
import json, sys, pathlib
res, margin, epochs = pathlib.Path(sys.argv[1]), float(sys.argv[2]), sys.argv[3:]
best = None
for e in epochs:
    f = res / f"sweep-{e}" / "summary.json"
    if f.is_file():
        s = json.loads(f.read_text())
        a, t = s["accuracy"], s.get("time_s", {})
        print(f"sweep epochs {e}: mean {a['mean']:.3f} std {a['std']:.3f} n {a['n']} time {t.get('mean', 0):.3f}")
        if best is None and a["mean"] >= margin:
            best = e
best = best or epochs[-1]
(res / "chosen_epochs").write_text(best)
print("chosen epochs", best)
EOF
      ;;
    davidnet)
      run timeout 500 $CLI speedrun --recipe davidnet --runs "$DAVID_RUNS" --out "$RES/davidnet"
      ;;
    final)
      E=${EPOCHS:-$(cat "$RES/chosen_epochs" 2>/dev/null || echo 10.4)}
      run timeout 540 $CLI speedrun --recipe fast --epochs "$E" --runs "$FINAL_RUNS" --out "$RES/fast-$E"
      ;;
    *) say "unknown stage $stage" ;;
  esac
done
tar czf "$OUT/results.tgz" -C "$RES" --exclude=out . 2>/dev/null
say "done: $(ls "$OUT")"
