#!/usr/bin/env bash
# The whole test suite, as the README gives it and as CI runs it (.ci/run calls this).
# Installs its own dependencies first (scripts/install-test-deps.sh), then runs every test project in the
# solution on Microsoft.Testing.Platform and prints one closing line: "N passed, N failed, N skipped".
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/install-test-deps.sh

export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# The fault tests (tests/SharpEyes.Gateway.Tests/Delivery) add a row each to this table; printed at the end.
fault_report=tests/SharpEyes.Gateway.Tests/bin/Release/net10.0/fault-report.md
rm -f "$fault_report"
# A test that hangs is dumped and its name written to TestResults/*_hang.log after 10 minutes (the Microsoft Testing
# Platform's hang-dump extension), so a hang fails the run with a name instead of holding it until CI's limit.
rm -rf TestResults
set +e
dotnet test --solution SharpEyes.sln -c Release --no-progress --hangdump --hangdump-timeout 10m 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The same storage-facing tests again with every test gateway on PostgreSQL (a database of its own on the run's
# throwaway cluster; tests/SharpEyes.Gateway.Tests/Infrastructure/TestStores.cs), except those about the SQLite file
# itself (trait Store=sqlite). Both passes count in the closing line.
echo
echo "Again on PostgreSQL (SHARPEYES_TEST_STORE=postgres):"
pg_filters=()
for ns in Alarms Audit Auth Coverage Delivery Devices Durability Feeds Geography Http Incidents Mqtt Sip Streams; do
  pg_filters+=(--filter-namespace "SharpEyes.Gateway.Tests.$ns")
done
pg_filters+=(--filter-namespace SharpEyes.Gateway.Tests.Storage.Repositories) # the storage suite: every repository on both engines
SHARPEYES_TEST_STORE=postgres dotnet test --project tests/SharpEyes.Gateway.Tests -c Release --no-build --no-progress \
  --hangdump --hangdump-timeout 10m "${pg_filters[@]}" --filter-not-trait "Store=sqlite" 2>&1 | tee -a "$log"
pg_status=${PIPESTATUS[0]}
[[ $status -ne 0 ]] || status=$pg_status
set -e

for hang in TestResults/*_hang.log; do
  [[ -f "$hang" ]] || continue
  echo
  echo "A test hung; running when it was dumped ($hang, dump beside it):"
  cat "$hang"
done

if [[ -f "$fault_report" ]]; then
  echo
  echo "Fault tests (injected fault, events, arrived, duplicates, time to recover):"
  cat "$fault_report"
  echo
fi

# Every failed test again, with the first lines of its error, so the end of a long run's output names it.
failures=$(awk '
  /^failed / { n = 16; print ""; print; next }
  n > 0 && /^[[:space:]]/ { print; n--; next }
  { n = 0 }
' "$log")
if [[ -n "$failures" ]]; then
  echo
  echo "Failed tests (first lines of each error):"
  echo "$failures"
  echo
fi

# Sum the per-project summaries ("total: N / failed: N / succeeded: N / skipped: N").
awk '
  /^[[:space:]]*failed:[[:space:]]*[0-9]+/    { f += $2 }
  /^[[:space:]]*succeeded:[[:space:]]*[0-9]+/ { p += $2 }
  /^[[:space:]]*skipped:[[:space:]]*[0-9]+/   { s += $2 }
  END { printf "%d passed, %d failed, %d skipped\n", p, f, s }
' "$log"
exit "$status"
