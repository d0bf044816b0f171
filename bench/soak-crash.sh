#!/usr/bin/env bash
# Soak for crash recovery: runs the kill -9 / restart / bit-identical test ROUNDS times (default 20), on one node
# (SQLite) or, with NODES=2, on two nodes sharing PostgreSQL and Redis (the trainer is killed and restarted, the other
# node takes the job over). Usage: bench/soak-crash.sh [ROUNDS] [NODES]
# Each round kills the real service at three moments (right after an epoch, a random moment inside one,
# while the last epoch is being marked finished), so 20 rounds are 60 kills at different points.
# Every round runs whatever the earlier ones gave; the counts of passed and failed kills are printed at the end, and
# each round's test output and each kill's service logs are kept under OUT (default soak-out/crash-<time>).
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-20}"
NODES="${2:-1}"
case "$NODES" in
  1) FILTER="FullyQualifiedName~CrashRecoveryTests" ;;
  2) FILTER="FullyQualifiedName~ClusterTests.KilledTrainingNode" ;;
  *) echo "NODES must be 1 or 2" >&2; exit 2 ;;
esac
OUT="${OUT:-soak-out/crash-${NODES}node-$(date -u +%Y%m%d-%H%M%S)}"
mkdir -p "$OUT"
export RELIABILITY_LOG_DIR="$PWD/$OUT"
dotnet build tests/Reliability.Tests -c Release
passed=0; failed=0
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  dotnet test tests/Reliability.Tests -c Release --no-build --filter "$FILTER" \
    --logger "console;verbosity=normal" --logger "trx;LogFileName=$PWD/$OUT/round-$round.trx" > "$OUT/round-$round.log" 2>&1 || true
  p=$( (grep -o 'outcome="Passed"' "$OUT/round-$round.trx" 2>/dev/null || true) | wc -l)
  f=$( (grep -o 'outcome="Failed"' "$OUT/round-$round.trx" 2>/dev/null || true) | wc -l)
  if [ "$((p + f))" -ne 3 ]; then f=$((3 - p)); fi
  passed=$((passed + p)); failed=$((failed + f))
  echo "   $p passed, $f failed (kills so far: $passed passed, $failed failed)"
done
echo "crash soak on $NODES node(s): $ROUNDS rounds, $((passed + failed)) kills: $passed passed, $failed failed; output in $OUT"
[ "$failed" -eq 0 ]
