#!/usr/bin/env bash
# Interleaved CSI publish benchmark: another checkout (e.g. `git worktree add --detach /tmp/before <commit>` plus a
# node_modules link) and this one, ROUNDS (4) rounds, the order alternating. Directory mounter, 1,000 publishes.
# Usage: bench/csi-interleave.sh /tmp/before
set -euo pipefail
before=$1
here=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$here/node_modules/.bin:$PATH
for i in $(seq 1 "${ROUNDS:-4}"); do
  if [ $((i % 2)) = 1 ]; then order="$before $here"; else order="$here $before"; fi
  for d in $order; do
    echo "=== round $i $d"
    (cd "$d" && CSI_BENCH_MOUNTER=dir CSI_BENCH_N=1000 node bench/csi-publish.bench.ts 2>&1 | grep -E "n=")
  done
done
