#!/usr/bin/env bash
# Builds the browser console (src/SharpEyes.Console) into src/SharpEyes.Console/dist, idempotently, on Debian 12:
#   nodejs + npm    Debian's packages, installed only when node or npm is missing (the build runs on Node 18 or later)
#   npm ci          the exact packages of package-lock.json, rerun only when the lock changed
#   npm run build   type-check and bundle (a few seconds; every run, so the page is always the sources')
# The gateway's build copies dist/ beside its binary as console/ (scripts/run.sh runs this first). `dotnet build`
# alone needs none of it: without a build the gateway's / says how to make one.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
bash scripts/install-apt-packages.sh install-console "${missing[@]}"

console=src/SharpEyes.Console
stamp=$console/node_modules/.sharpeyes-lock.sha256
want=$(sha256sum $console/package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "install-console: npm ci in $console"
  (cd $console && npm ci --no-audit --no-fund --loglevel=error)
  echo "$want" > "$stamp"
fi

(cd $console && npm run --silent build)
