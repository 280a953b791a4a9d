#!/usr/bin/env bash
# Runs the gateway on its embedded default (own MQTT broker, SQLite in ./data), as the README gives it.
# Installs what the gateway needs at run time first (scripts/install-runtime-deps.sh: ffmpeg for the stream checks),
# builds the browser console it serves on its HTTP port (scripts/install-console.sh: Node and npm if missing, npm ci,
# npm run build), then passes every argument on: bash scripts/run.sh --demo
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bash "$root/scripts/install-runtime-deps.sh"
bash "$root/scripts/install-console.sh"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
exec dotnet run --project "$root/src/SharpEyes.Gateway" -c Release -- "$@"
