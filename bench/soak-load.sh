#!/usr/bin/env bash
# Soak for SQLite under load: 8 API clients against the real service while 2 jobs train, for SECONDS
# (default 600 = 10 minutes; CI runs the same test for 40 s). Fails on any 5xx or a busy/locked database in the logs.
set -euo pipefail
cd "$(dirname "$0")/.."
export RELIABILITY_LOAD_SECONDS="${1:-600}"
dotnet build tests/Reliability.Tests -c Release
dotnet test tests/Reliability.Tests -c Release --no-build --filter "FullyQualifiedName~StorageTests.EightClients"
