#!/usr/bin/env bash
# Soak for crash recovery: runs the kill -9 / restart / bit-identical test ROUNDS times (default 20).
# Each round kills the real service at three moments (right after an epoch, a random moment inside one,
# while the last epoch is being marked finished), so 20 rounds are 60 kills at different points.
set -euo pipefail
cd "$(dirname "$0")/.."
ROUNDS="${1:-20}"
dotnet build tests/Reliability.Tests -c Release
for round in $(seq 1 "$ROUNDS"); do
  echo "== round $round of $ROUNDS"
  dotnet test tests/Reliability.Tests -c Release --no-build --filter "FullyQualifiedName~CrashRecoveryTests"
done
echo "crash soak: $ROUNDS rounds passed"
