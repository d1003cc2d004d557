#!/usr/bin/env bash
# Stage, on this machine (no GPU needed), what the device calls carry. Run once from anywhere:
#
#   bash benchmarks/gpu/prepare.sh
#
# A device call carries the working tree plus at most 64 MiB, so the data travel in folders that
# git ignores (.gitignore: /.gpu*/), one folder per call, each under 55 MB:
#   .gpu1/  part-1.npz (30,000 CIFAR-10 training images)            call 1 stages it in /root/c10
#   .gpu2/  part-2.npz, cifar10_unpack.py, airbench-<v>.tar.gz       call 2 rebuilds CIFAR-10, runs
#   .gpu3/  Fashion-MNIST's four idx .gz files (Debian's package)    studies with MiniGoogLeNet
# The airbench sdist is fetched once with pip (the device reaches no registry); Fashion-MNIST
# comes from `apt-get install -y dataset-fashion-mnist` (/usr/share/datasets/fashion-mnist).
#
# Overrides: DEST (folder that receives .gpu1-3, default the repository root), SHARED (default
# ../shared beside the repository), FMNIST, AIRBENCH (pip requirement, default airbench==0.1.8).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
DEST=${DEST:-$ROOT}
SHARED=${SHARED:-$ROOT/../shared}
FMNIST=${FMNIST:-/usr/share/datasets/fashion-mnist}
AIRBENCH=${AIRBENCH:-airbench==0.1.8}

fail() { echo "error: $*" >&2; exit 2; }
[ -f "$SHARED/data/cifar10/part-1.npz" ] || fail "no CIFAR-10 parts under $SHARED/data/cifar10 (set SHARED)"
mkdir -p "$DEST/.gpu1" "$DEST/.gpu2" "$DEST/.gpu3"
cp -u "$SHARED/data/cifar10/part-1.npz" "$DEST/.gpu1/"
cp -u "$SHARED/data/cifar10/part-2.npz" "$SHARED/tools/cifar10_unpack.py" "$DEST/.gpu2/"
if ! ls "$DEST"/.gpu2/airbench-*.tar.gz >/dev/null 2>&1; then
  python3 -m pip download -q --no-deps --no-binary :all: "$AIRBENCH" -d "$DEST/.gpu2" \
    || fail "pip could not download $AIRBENCH"
fi
if ls "$FMNIST"/*-ubyte.gz >/dev/null 2>&1; then
  cp -u "$FMNIST"/*-ubyte.gz "$DEST/.gpu3/"
else
  echo "warning: no Fashion-MNIST at $FMNIST (apt-get install -y dataset-fashion-mnist); .gpu3 left empty" >&2
fi
for d in .gpu1 .gpu2 .gpu3; do
  kib=$(du -sk "$DEST/$d" | cut -f1)
  [ "$kib" -lt 60000 ] || fail "$d holds ${kib} KiB: over what one call may carry beside the tree"
  echo "$d: $((kib / 1024)) MiB ($(ls "$DEST/$d" | tr '\n' ' '))"
done
