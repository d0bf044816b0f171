#!/usr/bin/env bash
# Soak under load: 8 API clients against the real service for SECONDS (default 600 = 10 minutes; CI runs the same test
# for 40 s), on one node (SQLite) or, with NODES=2, on two nodes sharing PostgreSQL and Redis (clients and jobs spread
# over both), while two training jobs keep training (each is submitted again as soon as it ends, so training
# lasts as long as the load). Verdict, outcome first: no 5xx or 429, every epoch of every job stored once and in order,
# every training job's weights identical, no busy/locked database in the service's log.
# Output (the test's console and the service's log) is kept under OUT (default soak-out/load-<time>).
# Usage: bench/soak-load.sh [SECONDS] [NODES]
set -euo pipefail
cd "$(dirname "$0")/.."
export RELIABILITY_LOAD_SECONDS="${1:-600}"
NODES="${2:-1}"
case "$NODES" in
  1) FILTER="FullyQualifiedName~StorageTests.EightClients" ;;
  2) FILTER="FullyQualifiedName~ClusterTests.EightClients" ;;
  *) echo "NODES must be 1 or 2" >&2; exit 2 ;;
esac
OUT="${OUT:-soak-out/load-${NODES}node-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
export RELIABILITY_LOG_DIR="$PWD/$OUT"
dotnet build tests/Reliability.Tests -c Release
status=0
dotnet test tests/Reliability.Tests -c Release --no-build --filter "$FILTER" \
  --logger "console;verbosity=detailed" --logger "trx;LogFileName=$PWD/$OUT/load.trx" 2>&1 | tee "$OUT/console.log" || status=$?
grep -o '[0-9]* s of load: .*' "$OUT/console.log" | head -1 || true
echo "load soak on $NODES node(s): exit $status; output in $OUT"
exit "$status"
