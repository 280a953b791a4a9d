#!/usr/bin/env bash
# The README's test command on a cold start, as a fresh machine runs it first:
#   bash scripts/cold-test.sh [N]
# For each of N runs (default 1; it stops at the first red one): clones the committed HEAD of this repository into a
# new folder beside it, deletes GStreamer's plugin registry (~/.cache/gstreamer-1.0, rebuilt on the RTSP server's
# first start) and every build output of the clone (bin/ and obj/), then runs `bash scripts/test.sh` there and
# prints PASS or FAIL with the suite's closing line ("N passed, N failed, N skipped").
#
# Kept: the NuGet package cache (~/.nuget/packages) and npm's cache, and the Debian packages that
# scripts/install-test-deps.sh installs. They are what the README's setup leaves on a machine after its first
# restore and install, they come from the package registries and not from this repository, and deleting them would
# test the network rather than the project. Uncommitted changes are not tested (a warning says so).
#
# A green run's folder is removed; a red one's is kept, with its log, for a look.
# Needs only what the README's setup has: bash, git, and what scripts/test.sh installs.
set -euo pipefail

runs=${1:-1}
if ! [[ "$runs" =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: bash scripts/cold-test.sh [N]   (N runs, default 1, stopping at the first red one)" >&2
  exit 2
fi

root=$(cd "$(dirname "$0")/.." && pwd)
sha=$(git -C "$root" rev-parse HEAD)
if [ -n "$(git -C "$root" status --porcelain --untracked-files=no)" ]; then
  echo "cold-test: uncommitted changes in $root are not tested: the runs use commit ${sha:0:12}" >&2
fi

for ((run = 1; run <= runs; run++)); do
  dir=$(mktemp -d "$(dirname "$root")/$(basename "$root")-cold.XXXXXX")
  log="$dir.log"
  echo "cold-test: run $run/$runs: commit ${sha:0:12} in $dir (log: $log)"

  git -C "$dir" init --quiet
  git -C "$dir" fetch --quiet "$root" "$sha" 2>/dev/null || git -C "$dir" fetch --quiet "$root" HEAD
  if [ "$(git -C "$dir" rev-parse FETCH_HEAD)" != "$sha" ]; then
    echo "cold-test: $root moved on while it was cloned; run again" >&2
    exit 2
  fi
  git -C "$dir" checkout --quiet --detach FETCH_HEAD

  rm -rf "${HOME:?}/.cache/gstreamer-1.0"
  find "$dir" -type d \( -name bin -o -name obj \) -prune -exec rm -rf {} +

  started=$(date +%s)
  set +e
  (cd "$dir" && bash scripts/test.sh) >"$log" 2>&1
  status=$?
  set -e
  elapsed=$(($(date +%s) - started))
  summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed, [0-9]+ skipped$' "$log" | tail -n 1 || true)

  if [ "$status" -eq 0 ]; then
    echo "cold-test: run $run/$runs: PASS in ${elapsed} s: ${summary:-no closing line}"
    rm -rf "$dir" "$log"
  else
    echo "cold-test: run $run/$runs: FAIL (exit $status) in ${elapsed} s: ${summary:-no closing line}"
    grep -E '^\s*failed ' "$log" | head -n 20 || true
    echo "cold-test: the clone stays in $dir, the whole output in $log"
    exit 1
  fi
done
echo "cold-test: $runs of $runs runs green on a cold start"
